//! Prints the definition template (what `mmp pipeline definition` prints).
fn main() {
    print!("{}", mmp_pipeline::definition::template());
}
