//! Integration tests across the femscale crates.

mod bad_input;
mod convergence;
mod pipeline;
mod reaction_robin;
