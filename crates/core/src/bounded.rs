//! Counting limits applied while a request body is read, not after: an ingest body
//! of millions of empty objects is refused at the first item past the limit,
//! before it has cost more memory than the limit allows.
//!
//! [`within`] reads a body with a budget of items; every list read
//! through [`counted`] takes one item of it per element (series and their points,
//! error events, alerts). Fields that hold free JSON take scalars only
//! ([`scalar`]), so no nesting can grow without bound either.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

thread_local! {
    /// Items the body being read may still hold (`None`: not reading one).
    static BUDGET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// A request body with a counting limit.
pub trait CountedBody: DeserializeOwned {
    /// Items (list elements read through [`counted`]) the whole body may hold.
    const MAX_ITEMS: usize;
}

/// Runs `read`, a synchronous JSON reading of a `T`, with `T::MAX_ITEMS` counted
/// items in its budget: reading stops at the first item past it. serde_json reads
/// on the calling thread without yielding, so the budget it sees is this body's.
pub fn within<T: CountedBody, R>(read: impl FnOnce() -> R) -> R {
    let outer = BUDGET.replace(Some(T::MAX_ITEMS));
    let result = read();
    BUDGET.set(outer);
    result
}

/// Takes one item of the budget; `false` when it is spent. Outside a counted
/// reading there is no budget (the request's own `parse` still checks its limits).
fn take_one() -> bool {
    BUDGET.with(|budget| match budget.get() {
        None => true,
        Some(0) => false,
        Some(left) => {
            budget.set(Some(left - 1));
            true
        }
    })
}

/// `#[serde(deserialize_with = "counted")]`: a list whose elements each take one
/// item of the body's budget.
pub fn counted<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct CountedList<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for CountedList<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element()? {
                if !take_one() {
                    return Err(de::Error::custom(
                        "too many items in one request (the body's limit is counted while it is read): send them in several requests",
                    ));
                }
                items.push(item);
            }
            Ok(items)
        }
    }

    deserializer.deserialize_seq(CountedList(PhantomData))
}

/// `#[serde(default, deserialize_with = "scalar")]`: free JSON that must be a
/// string, number or boolean (null reads as absent); a list or object is refused
/// at its first byte instead of being built.
pub fn scalar<'de, D>(deserializer: D) -> Result<Option<Value>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Scalar;

    impl<'de> Visitor<'de> for Scalar {
        type Value = Option<Value>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Value::Bool(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Value::from(v)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Value::from(v)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(Value::from(v)))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Value::String(v.to_owned())))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Value::String(v)))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(Scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "counted")]
        outer: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(default, deserialize_with = "counted")]
        points: Vec<u8>,
        #[serde(default, deserialize_with = "scalar")]
        at: Option<Value>,
    }

    impl CountedBody for Body {
        const MAX_ITEMS: usize = 5;
    }

    fn from_slice_within(bytes: &[u8]) -> Result<Body, serde_json::Error> {
        within::<Body, _>(|| serde_json::from_slice(bytes))
    }

    #[test]
    fn every_list_shares_the_bodys_budget() {
        let fits = from_slice_within(br#"{"outer":[{"points":[1,2]},{"points":[3]}]}"#);
        let points = |b: Body| b.outer.iter().map(|i| i.points.len()).sum::<usize>();
        assert_eq!(fits.map(points).ok(), Some(3), "2 + 3 items");
        let exactly = from_slice_within(br#"{"outer":[{"points":[1,2,3]},{}]}"#);
        assert!(exactly.is_ok(), "exactly the limit: {exactly:?}");
        let over = from_slice_within(br#"{"outer":[{"points":[1,2]},{"points":[3,4]}]}"#);
        let error = over.expect_err("6 items").to_string();
        assert!(error.contains("too many items"), "{error}");
        // Outside a counted reading only the request's own checks apply.
        let plain: Body =
            serde_json::from_str(r#"{"outer":[{},{},{},{},{},{},{}]}"#).expect("read");
        assert_eq!(plain.outer.len(), 7);
    }

    #[test]
    fn a_refusal_comes_at_the_first_item_past_the_limit() {
        // A million empty objects: refused at the sixth, whatever follows.
        let mut body = String::from(r#"{"outer":["#);
        body.push_str(&vec!["{}"; 1_000_000].join(","));
        body.push_str("]}");
        let error = from_slice_within(body.as_bytes()).expect_err("refused");
        assert!(error.column() < 40, "stopped early: {error}");
    }

    #[test]
    fn free_fields_take_scalars_only() {
        let read = |json: &str| serde_json::from_str::<Inner>(json).map(|i| i.at);
        assert_eq!(
            read(r#"{"at": "noon"}"#).ok(),
            Some(Some(Value::from("noon")))
        );
        assert_eq!(read(r#"{"at": 17}"#).ok(), Some(Some(Value::from(17))));
        assert_eq!(read(r#"{"at": 2.5}"#).ok(), Some(Some(Value::from(2.5))));
        assert_eq!(read(r#"{"at": null}"#).ok(), Some(None));
        assert_eq!(read(r#"{}"#).ok(), Some(None));
        assert!(read(r#"{"at": [[], [], []]}"#).is_err());
        assert!(read(r#"{"at": {"a": 1}}"#).is_err());
    }
}
