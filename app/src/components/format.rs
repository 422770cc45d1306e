//! How times, durations and versions are written on the pages.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use leptos::prelude::*;

/// "just now", "5 min ago", "3 h ago", "12 d ago"; relative to the server's clock
/// at read time so the server and the browser render the same text.
pub fn relative_time(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        s if s < 0 => "in the future".to_owned(),
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// "2026-11-21 14:05 UTC". Written out by hand: chrono's `format` parses its pattern
/// at run time and brings that parser into the browser's wasm.
pub fn absolute_time(t: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// "45 s", "3 min 20 s", "2 h 5 min".
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// A 40-character commit SHA is shown by its first 7 characters; tags stay whole.
pub fn short_version(version: &str) -> String {
    let is_sha = version.len() >= 12 && version.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha {
        version[..7].to_owned()
    } else {
        version.to_owned()
    }
}

/// A time as "3 h ago" with the exact time in a tooltip.
#[component]
pub fn TimeAgo(at: DateTime<Utc>, now: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=at.to_rfc3339() title=absolute_time(at)>
            {relative_time(at, now)}
        </time>
    }
}

/// `at` in the viewer's own time zone, written by the browser once the page runs
/// (the server does not know the viewer's zone): "your time: Mon 30/11/2026, 16:30 CET".
#[component]
pub fn ViewerTime(at: DateTime<Utc>) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
                at.timestamp_millis() as f64
            ));
            let options = js_sys::Object::new();
            for (key, value) in [
                ("weekday", "short"),
                ("year", "numeric"),
                ("month", "2-digit"),
                ("day", "2-digit"),
                ("hour", "2-digit"),
                ("minute", "2-digit"),
                ("timeZoneName", "short"),
            ] {
                let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
            }
            let local = String::from(date.to_locale_string("en-GB", &options));
            set_text.set(format!("your time: {local}"));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (at, set_text);
    });
    view! { <span class="viewer-time" data-testid="viewer-time">{move || text.get()}</span> }
}

/// A version in monospace with the full value in a tooltip.
#[component]
pub fn Version(version: String) -> impl IntoView {
    view! { <code class="version" title=version.clone()>{short_version(&version)}</code> }
}

/// `url` when it is safe to put in an `href`: http or https, and nothing a browser
/// would strip or reinterpret (spaces, control characters, backslashes).
pub fn safe_link(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let clean = !url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    (scheme_ok && clean).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn absolute_time_pads_every_field() {
        let t = Utc
            .with_ymd_and_hms(2026, 3, 7, 4, 5, 59)
            .single()
            .expect("valid");
        assert_eq!(absolute_time(t), "2026-03-07 04:05 UTC");
        let t = Utc
            .with_ymd_and_hms(2026, 11, 21, 14, 30, 0)
            .single()
            .expect("valid");
        assert_eq!(absolute_time(t), "2026-11-21 14:30 UTC");
    }

    #[test]
    fn relative_time_edges() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .expect("valid");
        let cases = [
            (0, "just now"),
            (59, "just now"),
            (60, "1 min ago"),
            (3599, "59 min ago"),
            (3600, "1 h ago"),
            (86_399, "23 h ago"),
            (86_400, "1 d ago"),
            (-5, "in the future"),
        ];
        for (ago, want) in cases {
            assert_eq!(
                relative_time(now - Duration::seconds(ago), now),
                want,
                "{ago} s ago"
            );
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::seconds(45)), "45 s");
        assert_eq!(human_duration(Duration::seconds(200)), "3 min 20 s");
        assert_eq!(human_duration(Duration::seconds(7500)), "2 h 5 min");
    }

    #[test]
    fn shas_are_shortened_and_tags_are_not() {
        assert_eq!(
            short_version("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
            "f95f852"
        );
        assert_eq!(short_version("v1.42.0"), "v1.42.0");
        assert_eq!(short_version("deadbeef"), "deadbeef");
    }

    #[test]
    fn only_plain_http_links_are_links() {
        assert_eq!(
            safe_link("https://ci.example/run/1").as_deref(),
            Some("https://ci.example/run/1")
        );
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "https://x.example/\tpath",
            "http://a\\b",
            "//evil.example",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
    }
}
