//! Part 3: The assembled matrix out to sprs and faer and back in. Both crates come re-exported
//! (`femscale::core::sprs`, `femscale::solvers::faer`): no version of them to pin here.

use femscale::core::sprs;
use femscale::prelude::*;
use femscale::solvers::faer::linalg::solvers::Solve;
use femscale::solvers::faer::{Col, Side};
use femscale::solvers::interop::{from_faer_csc, to_faer_csc};

use crate::Res;
use crate::many_rhs::Reused;

pub fn run(reused: &Reused) -> Res {
    let a: &CsrMatrix = &reused.op.matrix;

    // sprs: an owned CSR copy. Check symmetry entry by entry, and scale it.
    let s: sprs::CsMat<f64> = a.to_sprs();
    let asymmetry = (s.iter())
        .map(|(&v, (i, j))| (v - s.get(j, i).copied().unwrap_or(f64::INFINITY)).abs())
        .fold(0.0, crate::nan_max);
    assert!(asymmetry <= 1e-13, "asymmetry {asymmetry:.1e}");
    let doubled = CsrMatrix::try_from_sprs(s.map(|v| 2.0 * v).view())?;
    assert_eq!(doubled.pattern(), a.pattern());
    assert!(
        doubled
            .values()
            .iter()
            .zip(a.values())
            .all(|(d, v)| *d == 2.0 * v)
    );
    // Round trips, from CSR and from CSC storage: exact.
    assert_eq!(CsrMatrix::try_from_sprs(s.view())?, *a);
    assert_eq!(CsrMatrix::try_from_sprs(s.to_csc().view())?, *a);

    // faer: a CSC copy, back exactly, and faer's own sparse Cholesky agrees with femscale's.
    let csc = to_faer_csc(a)?;
    assert_eq!(from_faer_csc(csc.as_ref())?, *a);
    let llt = (csc.as_ref().sp_cholesky(Side::Lower)).map_err(|e| format!("faer: {e:?}"))?;
    let n = a.nrows();
    let u = llt.solve(Col::from_fn(n, |i| reused.b[i]));
    let u: Vec<f64> = (0..n).map(|i| u[i]).collect();
    let diff = crate::max_diff(&u, &reused.x[..n]);
    assert!(diff < 1e-12, "faer and femscale differ by {diff:.1e}");

    println!(
        "3. matrix {n}x{n} ({} entries) to sprs (asymmetry {asymmetry:.0e}, scaled) and faer \
         and back, exactly; faer's Cholesky agrees to {diff:.0e}",
        a.nnz()
    );
    Ok(())
}
