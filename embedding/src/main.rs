//! A research program that embeds femscale: the complete example of the README's
//! "Embedding" section. It lives outside femscale's workspace, as your own crate would, and
//! depends on the facade alone, without default features:
//!
//! ```toml
//! femscale = { path = "../crates/femscale", default-features = false }
//! ```
//!
//! Run it (CI does) with
//!
//! ```text
//! cargo run --manifest-path embedding/Cargo.toml
//! ```
//!
//! Each part prints one line of what it showed and checks it: a failed check panics and a
//! library error is returned, so either way the program exits non-zero.
//!
//! 1. [`study`]: a closure coefficient `k = 1 + a x y`, for several `a`, converging at rate 2.
//! 2. [`many_rhs`]: assemble once, factorize once, solve 20 right-hand sides.
//! 3. [`interop`]: the matrix out to sprs (and faer) and back in.
//! 4. [`own_mesh`]: a mesh from your own arrays, boundary conditions by part name.
//! 5. [`errors`]: matching on the typed errors of bad input.
//! 6. [`threads`]: one factorization shared by two threads.

mod errors;
mod interop;
mod many_rhs;
mod own_mesh;
mod study;
mod threads;

use femscale::prelude::*;

/// What every part returns: a femscale error (or a sprs/faer one) ends the program non-zero.
pub type Res<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The larger of `m` and `d`, NaN if either is (`f64::max` would drop a NaN, and a check
/// `max <= tol` would pass on it).
pub fn nan_max(m: f64, d: f64) -> f64 {
    if d.is_nan() || d > m { d } else { m }
}

/// The largest `|a_i - b_i|` (NaN if any difference is).
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, nan_max)
}

fn main() -> Res {
    let start = std::time::Instant::now();
    // One solver with the embedded defaults serves every part (no file, no server).
    let fem = FemSolver::new();
    study::run(&fem)?;
    let reused = many_rhs::run(&fem)?;
    interop::run(&reused)?;
    own_mesh::run(&fem)?;
    errors::run(&fem)?;
    threads::run(reused)?;
    println!(
        "all checks passed in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
