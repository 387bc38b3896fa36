//! The V-cycle and its preallocated workspace.
//!
//! `z = M⁻¹ r` runs pre-smoothing from zero, restriction of the residual, the cycle on the
//! next level, prolongation of its correction and post-smoothing; the coarsest level is solved
//! directly. With the pre-smoother's adjoint as post-smoother (see [`super::smoother`]) and
//! `R = Pᵀ`, `M⁻¹` is symmetric positive definite for a symmetric positive definite `A`.
//! Nothing is allocated: every vector lives in [`Workspace`].

use faer::dyn_stack::MemBuffer;

use super::coarse::CoarseSolver;
use super::setup::Level;
use super::smoother::SmootherWork;

/// Work vectors of one level. `b` and `x` are empty on the finest level (the caller's vectors
/// are used); `r`, `d` and `dn` are empty on the coarsest.
#[derive(Debug, Default)]
pub(crate) struct LevelWork {
    b: Vec<f64>,
    x: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    dn: Vec<f64>,
}

/// Everything a V-cycle writes: per-level vectors, the coarse factor and its scratch space.
pub(crate) struct Workspace {
    levels: Vec<LevelWork>,
    pub coarse: CoarseSolver,
    scratch: MemBuffer,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("levels", &self.levels.len())
            .field("coarse", &self.coarse)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Allocates the vectors for `levels`.
    pub fn new(levels: &[Level], coarse: CoarseSolver) -> Self {
        let works = levels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let n = l.a.nrows;
                let outer = if i == 0 { 0 } else { n };
                let inner = if l.fine.is_some() { n } else { 0 };
                LevelWork {
                    b: vec![0.0; outer],
                    x: vec![0.0; outer],
                    r: vec![0.0; inner],
                    d: vec![0.0; inner],
                    dn: vec![0.0; inner],
                }
            })
            .collect();
        let scratch = coarse.scratch();
        Self {
            levels: works,
            coarse,
            scratch,
        }
    }

    /// Heap bytes of the work vectors and the coarse factor.
    pub fn bytes(&self) -> usize {
        let vectors: usize = self
            .levels
            .iter()
            .map(|w| w.b.len() + w.x.len() + w.r.len() + w.d.len() + w.dn.len())
            .sum();
        vectors * 8 + self.coarse.bytes()
    }
}

/// `x = M⁻¹ b` for the hierarchy `levels`.
pub(crate) fn vcycle(levels: &[Level], ws: &mut Workspace, b: &[f64], x: &mut [f64]) {
    let Workspace {
        levels: works,
        coarse,
        scratch,
    } = ws;
    cycle(levels, works, coarse, scratch, b, x);
}

fn cycle(
    levels: &[Level],
    works: &mut [LevelWork],
    coarse: &mut CoarseSolver,
    scratch: &mut MemBuffer,
    b: &[f64],
    x: &mut [f64],
) {
    let (level, coarser) = levels.split_first().expect("a hierarchy has a level");
    let (work, rest) = works.split_first_mut().expect("one workspace per level");
    let Some(fine) = &level.fine else {
        coarse.solve(b, x, scratch);
        return;
    };
    let a = &level.a;
    let LevelWork { r, d, dn, .. } = &mut *work;
    fine.smoother
        .pre(a, &fine.dinv, b, x, SmootherWork { r, d, dn });
    let next = &mut rest[0];
    fine.r.spmv(&work.r, &mut next.b);
    let nb = std::mem::take(&mut next.b);
    let mut nx = std::mem::take(&mut next.x);
    cycle(coarser, rest, coarse, scratch, &nb, &mut nx);
    fine.p.spmv_add(&nx, x);
    rest[0].b = nb;
    rest[0].x = nx;
    let LevelWork { r, d, dn, .. } = &mut *work;
    fine.smoother
        .post(a, &fine.dinv, b, x, SmootherWork { r, d, dn });
}
