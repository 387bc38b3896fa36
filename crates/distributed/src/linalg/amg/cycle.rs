//! The distributed cycle: polynomial smoothing with products across ranks, restriction with
//! the partial sums sent to their owners, the coarse correction (recursively, then the
//! replicated levels), prolongation with the coarse ghosts fetched first.

use std::time::Instant;

use femscale_core::Result;
use femscale_solvers::kernels::spmv;

use super::{
    DistAmg, DistPreconditioner, Level, LevelWork, PROLONG, RESTRICT, Replicated, ReplicatedWork,
};
use crate::comm::Communicator;

/// What a cycle shares across levels.
struct Context<'a> {
    comm: &'a dyn Communicator,
    replicated: &'a Replicated,
    replicated_work: &'a mut ReplicatedWork,
    sweeps: usize,
    visits: usize,
    /// Seconds spent in messages and reductions.
    seconds: f64,
}

impl DistPreconditioner for DistAmg {
    fn name(&self) -> String {
        let distributed = self.info.iter().filter(|l| l.distributed).count();
        format!(
            "amg (distributed: {distributed} of {} levels)",
            self.info.len()
        )
    }

    fn apply(&self, comm: &dyn Communicator, r: &[f64], z: &mut [f64]) -> Result<f64> {
        let mut guard = self
            .work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (works, replicated_work) = &mut *guard;
        let mut ctx = Context {
            comm,
            replicated: &self.replicated,
            replicated_work,
            sweeps: self.sweeps,
            visits: self.visits,
            seconds: 0.0,
        };
        cycle(&self.levels, works, &mut ctx, r, z)?;
        Ok(ctx.seconds)
    }

    fn memory_bytes(&self) -> usize {
        let level_bytes: usize = self
            .levels
            .iter()
            .map(|l| {
                l.dinv.len() * 8
                    + l.transfer.p.memory_bytes()
                    + l.transfer.r.memory_bytes()
                    + if std::ptr::eq(l, &self.levels[0]) {
                        0
                    } else {
                        l.a.local().memory_bytes()
                    }
            })
            .sum();
        level_bytes
            + self.replicated.matrix.memory_bytes()
            + self.replicated.hierarchy.memory_bytes()
    }
}

/// `x = M⁻¹ b` from the first of `levels` down (`x`'s content on entry is ignored).
fn cycle(
    levels: &[Level],
    works: &mut [LevelWork],
    ctx: &mut Context<'_>,
    b: &[f64],
    x: &mut [f64],
) -> Result<()> {
    let Some((level, coarser)) = levels.split_first() else {
        return ctx
            .replicated
            .solve(ctx.comm, b, x, ctx.replicated_work, &mut ctx.seconds);
    };
    let (work, rest) = works.split_first_mut().expect("one workspace per level");
    smooth(level, ctx, work, b, x, true)?;
    residual(level, ctx, work, b, x)?;

    // Restriction: this rank's part of Pᵀ r, ghost parts added by their owners.
    let transfer = &level.transfer;
    let owned_coarse = transfer.halo.owned();
    spmv(&transfer.r, &work.r, &mut work.t);
    let next = &mut rest[0];
    next.b.copy_from_slice(&work.t[..owned_coarse]);
    let start = Instant::now();
    transfer
        .halo
        .reverse_add(ctx.comm, RESTRICT, &work.t[owned_coarse..], &mut next.b)?;
    ctx.seconds += start.elapsed().as_secs_f64();

    let nb = std::mem::take(&mut next.b);
    let mut nx = std::mem::take(&mut next.x);
    cycle(coarser, rest, ctx, &nb, &mut nx)?;
    // W-cycle: a second visit of a distributed coarse level corrects the first one (the
    // replicated levels make their own second visit).
    if ctx.visits > 1
        && let Some(next_level) = coarser.first()
    {
        let next = &mut rest[0];
        let mut b2 = std::mem::take(&mut next.b2);
        let mut x2 = std::mem::take(&mut next.x2);
        ctx.seconds += next_level
            .a
            .mul_timed(ctx.comm, &nx, &mut b2, &mut next.mul)?;
        for (ri, bi) in b2.iter_mut().zip(&nb) {
            *ri = bi - *ri;
        }
        cycle(coarser, rest, ctx, &b2, &mut x2)?;
        for (xi, ei) in nx.iter_mut().zip(&x2) {
            *xi += ei;
        }
        rest[0].b2 = b2;
        rest[0].x2 = x2;
    }

    // Prolongation: the coarse ghosts first, then x += P x_c.
    work.t[..owned_coarse].copy_from_slice(&nx);
    let start = Instant::now();
    let (own_part, ghost_part) = work.t.split_at_mut(owned_coarse);
    transfer
        .halo
        .forward(ctx.comm, PROLONG, own_part, ghost_part)?;
    ctx.seconds += start.elapsed().as_secs_f64();
    spmv(&transfer.p, &work.t, &mut work.q);
    for (xi, qi) in x.iter_mut().zip(&work.q) {
        *xi += qi;
    }
    rest[0].b = nb;
    rest[0].x = nx;
    smooth(level, ctx, work, b, x, false)
}

/// `work.r = b − A x`.
fn residual(
    level: &Level,
    ctx: &mut Context<'_>,
    work: &mut LevelWork,
    b: &[f64],
    x: &[f64],
) -> Result<()> {
    ctx.seconds += level.a.mul_timed(ctx.comm, x, &mut work.r, &mut work.mul)?;
    for (ri, bi) in work.r.iter_mut().zip(b) {
        *ri = bi - *ri;
    }
    Ok(())
}

/// `sweeps` sweeps of the level's polynomial smoother `x += p(D⁻¹A) D⁻¹ (b − A x)`, from
/// `x = 0` when `zero`. Each update `d` is followed by `r −= A d`, so `r` stays `b − A x`.
fn smooth(
    level: &Level,
    ctx: &mut Context<'_>,
    work: &mut LevelWork,
    b: &[f64],
    x: &mut [f64],
    zero: bool,
) -> Result<()> {
    if level.gauss_seidel {
        // Symmetric (forward, then backward after fresh ghosts): the cycle stays symmetric,
        // as CG needs.
        if zero {
            x.fill(0.0);
        }
        for _ in 0..ctx.sweeps {
            for forward in [true, false] {
                ctx.seconds += level.a.gather_ghosts(ctx.comm, x, &mut work.mul)?;
                level
                    .a
                    .gauss_seidel_sweep(b, &mut work.mul, &level.dinv, forward);
                x.copy_from_slice(&work.mul[..x.len()]);
            }
        }
        return Ok(());
    }
    for sweep in 0..ctx.sweeps {
        if zero && sweep == 0 {
            work.r.copy_from_slice(b);
            x.fill(0.0);
        } else {
            residual(level, ctx, work, b, x)?;
        }
        for ((di, ri), (xi, dinv)) in work
            .d
            .iter_mut()
            .zip(&work.r)
            .zip(x.iter_mut().zip(&level.dinv))
        {
            *di = level.first * dinv * ri;
            *xi += *di;
        }
        for &(c1, c2) in &level.steps {
            ctx.seconds += level
                .a
                .mul_timed(ctx.comm, &work.d, &mut work.q, &mut work.mul)?;
            for i in 0..x.len() {
                work.r[i] -= work.q[i];
                work.d[i] = c1 * work.d[i] + c2 * level.dinv[i] * work.r[i];
                x[i] += work.d[i];
            }
        }
    }
    Ok(())
}
