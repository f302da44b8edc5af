//! Tests written to kill the mutants cargo-mutants found surviving in the token and revocation
//! layers (spec/mutation-testing.md). Each pins a verdict through the crate's API: the exact
//! accept or reject of a crafted input, at the boundaries the mutants moved, so that they keep
//! holding when the code behind them is rewritten.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod binding;
mod claims;
mod filter;
mod verify;
