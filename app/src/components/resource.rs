//! Every page's resources, read back in the browser with the same JSON reader server
//! functions use for their answers.
//!
//! A resource's value crosses to the browser twice: inside the first page (hydration,
//! Leptos' default codec reads it with `serde_json::from_str`) and as a server
//! function's answer when it refetches (`serde_json::from_slice`). The two readers are
//! different types, so every answer type was compiled into the wasm twice, once per
//! reader. This codec reads the page's copy with `from_slice` too.

use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::{Serialize, de::DeserializeOwned};
use std::future::Future;

/// JSON written with `serde_json`, read back with `serde_json::from_slice`.
pub struct SliceJson;

impl<T: Serialize> Encoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(json.as_bytes())
    }
}

/// A resource of the pages: Leptos' `Resource`, carried into the page as JSON.
pub type Loaded<T> = Resource<T, SliceJson>;

/// `Resource::new` with [`SliceJson`]: what every page uses to load data.
#[track_caller]
pub fn load<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Loaded<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let value: Result<Vec<(String, f64)>, String> = Ok(vec![("p99".to_owned(), 0.25)]);
        let json = <SliceJson as Encoder<_>>::encode(&value).expect("encodes");
        let back: Result<Vec<(String, f64)>, String> =
            <SliceJson as Decoder<_>>::decode(&json).expect("decodes");
        assert_eq!(back, value);
        assert!(<SliceJson as Decoder<Vec<u8>>>::decode("[1,").is_err());
    }

    /// A resource made with Leptos' default codec brings a second JSON reader for its
    /// type into the wasm: every page makes its resources with [`load`].
    #[test]
    fn every_page_makes_its_resources_with_load() {
        fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("a source folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    sources(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 20, "found only {} files", files.len());
        for path in files
            .iter()
            .filter(|p| !p.ends_with("components/resource.rs"))
        {
            let source = std::fs::read_to_string(path).expect("source");
            // `LocalResource` never crosses to the browser: it is not one of these.
            for made in [
                "Resource::new(",
                "Resource::new_blocking(",
                "OnceResource::new(",
            ] {
                let standalone = source.match_indices(made).any(|(at, _)| {
                    !source[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                assert!(
                    !standalone,
                    "{}: makes a resource with `{made}`; use `components::load`",
                    path.display()
                );
            }
        }
    }
}
