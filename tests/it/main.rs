//! Integration tests across the femscale crates.

mod bad_input;
mod convergence;
mod gmsh_example;
mod pipeline;
mod reaction_robin;
