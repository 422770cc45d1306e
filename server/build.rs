//! Prepares the site the release binary carries (`src/site.rs` embeds what this
//! writes to `$OUT_DIR/site`): `target/site` as cargo-leptos built it, with each
//! gzip copy made again at the best level. cargo-leptos' own `.gz` copies are
//! ×1.17 the size of `gzip -9` (its encoder has no level setting), and gzip is what
//! a browser gets when it does not take brotli. Its brotli copies (quality 11) are
//! kept; TypeScript declarations are left out.

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let var = |name: &str| PathBuf::from(std::env::var_os(name).unwrap_or_default());
    let built = var("CARGO_MANIFEST_DIR").join("../target/site");
    let out = var("OUT_DIR").join("site");
    println!("cargo:rerun-if-changed={}", built.display());
    let _ = std::fs::remove_dir_all(&out);
    if let Err(e) = std::fs::create_dir_all(&out).and_then(|()| copy(&built, &out)) {
        panic!("preparing the embedded site from {}: {e}", built.display());
    }
}

/// Copies the site folder `from` into `to`, with gzip copies at the best level.
/// A missing folder (a build before the site's) copies nothing.
fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        let name = path.to_string_lossy();
        if path.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy(&path, &target)?;
        } else if name.ends_with(".gz") || name.ends_with(".ts") {
            continue;
        } else {
            let bytes = std::fs::read(&path)?;
            std::fs::write(&target, &bytes)?;
            if !name.ends_with(".br") && Path::new(&format!("{name}.gz")).exists() {
                let mut gzip =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gzip.write_all(&bytes)?;
                std::fs::write(format!("{}.gz", target.display()), gzip.finish()?)?;
            }
        }
    }
    Ok(())
}
