//! `embed_migrations!` reads the migration folders at compile time: rebuild the
//! crate when one is added, changed or removed.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
