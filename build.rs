//! Link settings for the operator's own binaries (dependencies are untouched).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        // Packed relative relocations (DT_RELR, glibc 2.36 and binutils 2.38
        // or later; the image builds on bookworm and runs on debian12): the
        // position-independent binary's 1.4 MB table of relocations, read at
        // every start and then resident, becomes a few KB (issue 34).
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
