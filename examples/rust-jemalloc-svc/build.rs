//! Links Debian's static jemalloc (libjemalloc-dev: libjemalloc_pic.a, position-independent for
//! a PIE executable) into the binary. Its symbols are unprefixed, so the binary's malloc is
//! jemalloc's too: every allocation of the process, Rust's and the C library's, goes to it.
use std::process::Command;

fn main() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .arg("-print-file-name=libjemalloc_pic.a")
        .output()
        .expect("a C compiler to find libjemalloc_pic.a");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = std::path::Path::new(&path).parent().map(|p| p.to_path_buf());
    match dir {
        Some(d) if std::path::Path::new(&path).is_absolute() => {
            println!("cargo:rustc-link-search=native={}", d.display());
        }
        _ => panic!("libjemalloc_pic.a not found (apt-get install libjemalloc-dev)"),
    }
    println!("cargo:rustc-link-lib=static=jemalloc_pic");
    for lib in ["pthread", "dl", "m"] {
        println!("cargo:rustc-link-lib=dylib={}", lib);
    }
    println!("cargo:rerun-if-changed=build.rs");
}
