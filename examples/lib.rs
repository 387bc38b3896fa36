//! Example programs for femscale live beside this file (`ex*.rs`); run one with
//! `cargo run --release -p femscale-examples --example ex00_quick_start`.
