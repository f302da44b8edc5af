//! Revocation filter lookups (placeholder while the bench is written).
fn main() {}
