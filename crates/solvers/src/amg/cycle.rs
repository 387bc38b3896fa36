//! The V- and W-cycles and their preallocated workspace.
//!
//! `z = M⁻¹ r` runs pre-smoothing from zero, restriction of the residual, the cycle on the
//! next level, prolongation of its correction and post-smoothing; the coarsest level is solved
//! directly. The W-cycle visits every coarse level that is not the coarsest twice: the second
//! visit solves for the correction of the first one's residual. With the pre-smoother's adjoint
//! as post-smoother (see [`super::smoother`]) and `R = Pᵀ`, `M⁻¹` is symmetric positive definite
//! for a symmetric positive definite `A` (two steps of a convergent symmetric iteration are one
//! symmetric iteration). Nothing is allocated: every vector lives in [`Workspace`].

use faer::dyn_stack::MemBuffer;

use super::coarse::CoarseSolver;
use super::setup::Level;
use super::smoother::SmootherWork;
use crate::options::AmgCycle;

/// Work vectors of one level. `b` and `x` are empty on the finest level (the caller's vectors
/// are used); `r`, `d` and `dn` are empty on the coarsest; `b2` and `x2` (the second visit of a
/// W-cycle) are used only on intermediate levels of a W-cycle.
#[derive(Debug, Default)]
pub(crate) struct LevelWork {
    b: Vec<f64>,
    x: Vec<f64>,
    r: Vec<f64>,
    d: Vec<f64>,
    dn: Vec<f64>,
    b2: Vec<f64>,
    x2: Vec<f64>,
}

/// Everything a cycle writes: per-level vectors, the coarse factor and its scratch space.
pub(crate) struct Workspace {
    levels: Vec<LevelWork>,
    /// Visits of each coarse level per visit of the next finer one: 1 (V-cycle) or 2 (W).
    visits: usize,
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
    /// Allocates the vectors for `levels` and the given cycle.
    pub fn new(levels: &[Level], coarse: CoarseSolver, cycle: AmgCycle) -> Self {
        let visits = match cycle {
            AmgCycle::V => 1,
            AmgCycle::W => 2,
        };
        let works = levels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let n = l.a.nrows;
                let outer = if i == 0 { 0 } else { n };
                let inner = if l.fine.is_some() { n } else { 0 };
                let second = if visits > 1 { outer.min(inner) } else { 0 };
                LevelWork {
                    b: vec![0.0; outer],
                    x: vec![0.0; outer],
                    r: vec![0.0; inner],
                    d: vec![0.0; inner],
                    dn: vec![0.0; inner],
                    b2: vec![0.0; second],
                    x2: vec![0.0; second],
                }
            })
            .collect();
        let scratch = coarse.scratch();
        Self {
            levels: works,
            visits,
            coarse,
            scratch,
        }
    }

    /// Heap bytes of the work vectors and the coarse factor.
    pub fn bytes(&self) -> usize {
        let vectors: usize = self
            .levels
            .iter()
            .map(|w| {
                w.b.len() + w.x.len() + w.r.len() + w.d.len() + w.dn.len() + w.b2.len() + w.x2.len()
            })
            .sum();
        vectors * 8 + self.coarse.bytes()
    }
}

/// `x = M⁻¹ b` for the hierarchy `levels`.
pub(crate) fn run(levels: &[Level], ws: &mut Workspace, b: &[f64], x: &mut [f64]) {
    let Workspace {
        levels: works,
        visits,
        coarse,
        scratch,
    } = ws;
    let mut ctx = Context {
        visits: *visits,
        coarse,
        scratch,
    };
    cycle(levels, works, &mut ctx, b, x);
}

/// What every level of one cycle shares.
struct Context<'a> {
    visits: usize,
    coarse: &'a mut CoarseSolver,
    scratch: &'a mut MemBuffer,
}

fn cycle(
    levels: &[Level],
    works: &mut [LevelWork],
    ctx: &mut Context<'_>,
    b: &[f64],
    x: &mut [f64],
) {
    let (level, coarser) = levels.split_first().expect("a hierarchy has a level");
    let (work, rest) = works.split_first_mut().expect("one workspace per level");
    let Some(fine) = &level.fine else {
        ctx.coarse.solve(b, x, ctx.scratch);
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
    cycle(coarser, rest, ctx, &nb, &mut nx);
    // W-cycle: a second visit corrects the first one (never needed on the coarsest level, which
    // is solved exactly).
    if ctx.visits > 1 && coarser[0].fine.is_some() {
        let mut b2 = std::mem::take(&mut rest[0].b2);
        let mut x2 = std::mem::take(&mut rest[0].x2);
        coarser[0].a.residual(&nb, &nx, &mut b2);
        cycle(coarser, rest, ctx, &b2, &mut x2);
        for (xi, ei) in nx.iter_mut().zip(&x2) {
            *xi += ei;
        }
        rest[0].b2 = b2;
        rest[0].x2 = x2;
    }
    fine.p.spmv_add(&nx, x);
    rest[0].b = nb;
    rest[0].x = nx;
    let LevelWork { r, d, dn, .. } = &mut *work;
    fine.smoother
        .post(a, &fine.dinv, b, x, SmootherWork { r, d, dn });
}
