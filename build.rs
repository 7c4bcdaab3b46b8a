//! Generates the C header `include/esbyt.h` from the exported functions and
//! records with cbindgen, whose exact version is pinned in Cargo.toml.
//!
//! The header is committed. The build rewrites it only when its content
//! changes, and the test command fails when the committed copy differs from
//! what this build generates.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");

    let crate_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"));
    let version = env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION is set by cargo");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    config.after_includes = Some(format!(
        "\n/* Version of the library this header belongs to; esbyt_version() returns the same text. */\n#define ESBYT_VERSION \"{version}\"\n"
    ));

    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(error) => {
            // A syntax error in src/ reaches the developer through rustc with
            // a better message; the header then stays as it was.
            println!("cargo:warning=include/esbyt.h not regenerated: {error}");
            return;
        }
    };

    let header = crate_dir.join("include").join("esbyt.h");
    let changed = bindings.write_to_file(&header);
    if changed {
        println!(
            "cargo:warning=include/esbyt.h regenerated; commit it with the change that caused it"
        );
    }
}
