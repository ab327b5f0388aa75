//! Builds the `guest-ops` component for `wasm32-wasip2` so the host and the client embed
//! the very same op semantics.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let target_dir = root.join("target").join("guest");
    for watched in ["guest-ops/src", "guest-ops/Cargo.toml", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "guest-ops",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags are for the host target; the guest must not inherit them.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        build.env_remove(var);
    }
    // Every op pays for the guest's code on the client's per-op path: optimise it as a whole.
    build
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false");
    let status = build.status().expect("running cargo to build guest-ops");
    assert!(
        status.success(),
        "building guest-ops for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );

    let wasm = target_dir.join("wasm32-wasip2/release/guest_ops.wasm");
    println!("cargo:rustc-env=TORCH_REMOTE_GUEST_WASM={}", wasm.display());

    if std::env::var_os("CARGO_FEATURE_SERVER").is_some() {
        if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
            link_libtorch(&lib);
            compile_shims(&lib);
        }
    }
}

/// The host binary loads libtorch from the Python wheel that torch-sys built against.
fn link_libtorch(lib: &str) {
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    // Nothing references libtorch_cuda directly, so `--as-needed` would drop it and the host
    // would silently compute on the CPU of a GPU machine.
    if std::path::Path::new(lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

/// The C++ shims in `csrc/`, against the headers next to that libtorch (`lib/../include`).
fn compile_shims(lib: &str) {
    let sources = [
        "csrc/allocator.cpp",
        "csrc/backward.cpp",
        "csrc/numbers.cpp",
        "csrc/optim.cpp",
        "csrc/session_thread.cpp",
    ];
    for file in sources.iter().chain(&["csrc/guarded.h"]) {
        println!("cargo:rerun-if-changed={file}");
    }
    let include = PathBuf::from(lib).join("..").join("include");
    cc::Build::new()
        .cpp(true)
        .files(sources)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .warnings(false)
        .compile("torch_remote_shims");
}
