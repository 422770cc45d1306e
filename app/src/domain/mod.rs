//! Pure domain logic: types that parse their input, and rules with no IO and no clock.

pub mod access;
pub mod accounts;
pub mod alerts;
pub mod bounded;
pub mod delivery;
pub mod deploy;
pub mod error_events;
pub mod flash;
/// Freeze windows need the time-zone database: server only.
#[cfg(feature = "ssr")]
pub mod freeze;
pub mod headline;
pub mod judge;
pub mod live;
pub mod locks;
pub mod metric_config;
pub mod names;
pub mod notify;
pub mod page;
pub mod sensitivity;
pub mod signals;
pub mod stats;

pub use access::*;
pub use accounts::*;
pub use alerts::*;
pub use delivery::*;
pub use deploy::*;
pub use error_events::*;
pub use headline::*;
pub use judge::*;
pub use live::*;
pub use locks::*;
pub use metric_config::*;
pub use names::*;
pub use notify::*;
pub use page::*;
pub use sensitivity::*;
pub use signals::*;

/// The domain stays pure: no IO, no clock, no randomness, no runtime, and nothing
/// from the layers above it. Checked on the source itself, so a new file or a new
/// line that reaches out fails here rather than in review.
#[cfg(test)]
mod purity {
    const FORBIDDEN: [&str; 20] = [
        "std::fs",
        "std::env",
        "std::process",
        "std::thread",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "tokio",
        "sqlx",
        "reqwest",
        "rand::",
        "leptos",
        "async fn",
        ".await",
        "crate::ssr",
        "crate::api",
    ];

    #[test]
    fn domain_code_has_no_io_clock_or_runtime() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut files = 0;
        // Every file under src/domain, folders of a module's parts included; a
        // module's `tests.rs` is test code throughout.
        let mut paths = Vec::new();
        let mut folders = vec![dir];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("src/domain") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.file_name().is_some_and(|n| n != "tests.rs") {
                    paths.push(path);
                }
            }
        }
        for path in paths {
            let source = std::fs::read_to_string(&path).expect("source");
            // Tests may use what they like; the code above them may not.
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            for (number, line) in code.lines().enumerate() {
                let line = line.split("//").next().unwrap_or_default();
                for word in FORBIDDEN {
                    assert!(
                        !line.contains(word),
                        "{}:{}: the domain must stay pure, but uses {word:?}",
                        path.display(),
                        number + 1
                    );
                }
                for layer in ["crate::pages", "crate::components"] {
                    assert!(
                        !line.contains(layer),
                        "{}:{}: {layer}",
                        path.display(),
                        number + 1
                    );
                }
            }
            files += 1;
        }
        assert!(files >= 8, "read only {files} domain files");
    }
}
