//! Integration tests across the femscale crates.

mod amg_3d;
mod bad_input;
mod convergence;
mod gmsh_example;
mod pipeline;
mod python_package;
mod reaction_robin;
