// The theme and demo folders are embedded with include_dir, which cannot tell cargo about
// files added later; rebuild when anything under them changes.
fn main() {
    println!("cargo:rerun-if-changed=theme");
    println!("cargo:rerun-if-changed=demo");
    println!("cargo:rerun-if-changed=migrations");
}
