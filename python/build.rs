//! Compiles the C++ PrivateUse1 shim against the torch wheel of the Python that builds us.

use std::process::Command;

fn python() -> String {
    if let Ok(python) = std::env::var("PYO3_PYTHON") {
        return python;
    }
    match std::env::var("VIRTUAL_ENV") {
        Ok(venv) => format!("{venv}/bin/python"),
        Err(_) => "python3".into(),
    }
}

fn main() {
    println!("cargo:rerun-if-changed=csrc/remote.cpp");
    println!("cargo:rerun-if-changed=csrc/recurrent.cpp");
    println!("cargo:rerun-if-env-changed=VIRTUAL_ENV");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    let probe = "import os, torch; r = os.path.dirname(torch.__file__); \
                 print(os.path.join(r, 'include')); print(os.path.join(r, 'lib'))";
    let output = Command::new(python())
        .args(["-c", probe])
        .output()
        .expect("running python to find torch");
    assert!(
        output.status.success(),
        "torch is not importable by {}: {}",
        python(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8 paths");
    let mut lines = text.lines();
    let (include, lib) = (lines.next().unwrap(), lines.next().unwrap());

    cc::Build::new()
        .cpp(true)
        .file("csrc/remote.cpp")
        .file("csrc/recurrent.cpp")
        .include(include)
        .include(format!("{include}/torch/csrc/api/include"))
        .flag("-std=c++20")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false)
        .compile("torch_remote_shim");

    println!("cargo:rustc-link-search=native={lib}");
    for name in ["c10", "torch_cpu", "torch"] {
        println!("cargo:rustc-link-lib=dylib={name}");
    }
    // Installed next to torch in site-packages; the build tree's torch for tests.
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../torch/lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
}
