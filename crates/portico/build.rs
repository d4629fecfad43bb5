//! The migrations are embedded by `sqlx::migrate!`, which cannot tell Cargo
//! that a new file in their folders changes the build: this does, so that a
//! migration added is in the next build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
