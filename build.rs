//! The aarch64 build links llama.cpp as shared libraries (its CPU backend comes as run-time
//! variants, see `crates/engine/src/cpu.rs`): the binary looks for them in `../lib/edgellm`
//! from its own directory (the packaged layout: /usr/bin + /usr/lib/edgellm), then beside it.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("aarch64") {
        println!("cargo:rustc-link-arg-bins=-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib/edgellm:$ORIGIN");
    }
}
