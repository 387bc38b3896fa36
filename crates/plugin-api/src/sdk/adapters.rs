//! The SDK's wrappers: a plugin author's structs as FFI-safe trait objects, with every method
//! the host can call run under `catch_unwind`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RErr, ROk, RResult, RSlice, RSliceMut};

use super::{Csr, Monitor, Preconditioner, PreconditionerBuilder, PreparedSolver, Solver};
use crate::objects::{
    MonitorMut, PreconditionerBox, PreconditionerBuilderBox, PreparedBox, RPreconditioner,
    RPreconditioner_TO, RPreconditionerBuilder, RPreconditionerBuilder_TO, RPrepared, RPrepared_TO,
    RSolver, RSolver_TO, SolverBox,
};
use crate::types::{CsrRef, ErrorKind, PluginError, SolveOutcome, SolveParams};

/// Runs `f`, turning a panic into [`ErrorKind::PANICKED`] with the panic's message.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => ROk(v),
        Ok(Err(e)) => RErr(e),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            RErr(PluginError::new(ErrorKind::PANICKED, message))
        }
    }
}

/// Like [`guard`], and marks `poisoned` when `f` panics; fails at once if already poisoned.
fn guard_poisoning<T>(
    poisoned: &AtomicBool,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    if poisoned.load(Ordering::Relaxed) {
        return RErr(PluginError::new(
            ErrorKind::PANICKED,
            "this object panicked earlier and may be inconsistent; prepare it again",
        ));
    }
    let result = guard(f);
    if matches!(&result, RErr(e) if e.kind == ErrorKind::PANICKED) {
        poisoned.store(true, Ordering::Relaxed);
    }
    result
}

pub(crate) fn solver_box<S: Solver>(solver: S) -> SolverBox {
    RSolver_TO::from_value(SolverAdapter(solver), TD_Opaque)
}

pub(crate) fn preconditioner_builder_box<P: PreconditionerBuilder>(
    builder: P,
) -> PreconditionerBuilderBox {
    RPreconditionerBuilder_TO::from_value(BuilderAdapter(builder), TD_Opaque)
}

struct SolverAdapter<S>(S);

impl<S: Solver> RSolver for SolverAdapter<S> {
    fn prepare(&self, a: CsrRef<'_>, params: SolveParams) -> RResult<PreparedBox, PluginError> {
        guard(|| {
            let prepared = self.0.prepare(Csr::try_from_abi(a)?, &params)?;
            Ok(RPrepared_TO::from_value(
                PreparedAdapter {
                    inner: prepared,
                    poisoned: AtomicBool::new(false),
                },
                TD_Opaque,
            ))
        })
    }
}

struct PreparedAdapter<P> {
    inner: P,
    poisoned: AtomicBool,
}

impl<P: PreparedSolver> RPrepared for PreparedAdapter<P> {
    fn solve<'m>(
        &mut self,
        a: CsrRef<'_>,
        b: RSlice<'_, f64>,
        mut x: RSliceMut<'_, f64>,
        params: SolveParams,
        monitor: MonitorMut<'m>,
    ) -> RResult<SolveOutcome, PluginError> {
        let Self { inner, poisoned } = self;
        guard_poisoning(poisoned, || {
            let a = Csr::try_from_abi(a)?;
            let (b, x) = (b.as_slice(), x.as_mut_slice());
            if b.len() != a.nrows || x.len() != a.ncols || a.nrows != a.ncols {
                return Err(PluginError::new(
                    ErrorKind::DIMENSION_MISMATCH,
                    format!(
                        "matrix is {}x{}, b has {} entries, x has {}",
                        a.nrows,
                        a.ncols,
                        b.len(),
                        x.len()
                    ),
                ));
            }
            inner.solve(a, b, x, &params, &mut Monitor::from_abi(monitor))
        })
    }

    fn update_values(&mut self, a: CsrRef<'_>) -> RResult<(), PluginError> {
        let Self { inner, poisoned } = self;
        guard_poisoning(poisoned, || inner.update_values(Csr::try_from_abi(a)?))
    }

    fn memory_bytes(&self) -> usize {
        match guard(|| Ok(self.inner.memory_bytes())) {
            ROk(bytes) => bytes,
            RErr(_) => 0,
        }
    }
}

struct BuilderAdapter<B>(B);

impl<B: PreconditionerBuilder> RPreconditionerBuilder for BuilderAdapter<B> {
    fn build(&self, a: CsrRef<'_>) -> RResult<PreconditionerBox, PluginError> {
        guard(|| {
            let a = Csr::try_from_abi(a)?;
            let n = a.nrows;
            let inner = self.0.build(a)?;
            Ok(RPreconditioner_TO::from_value(
                PreconditionerAdapter {
                    inner,
                    n,
                    poisoned: AtomicBool::new(false),
                },
                TD_Opaque,
            ))
        })
    }
}

struct PreconditionerAdapter<P> {
    inner: P,
    n: usize,
    poisoned: AtomicBool,
}

impl<P: Preconditioner> RPreconditioner for PreconditionerAdapter<P> {
    fn apply(&self, r: RSlice<'_, f64>, mut z: RSliceMut<'_, f64>) -> RResult<(), PluginError> {
        guard_poisoning(&self.poisoned, || {
            let (r, z) = (r.as_slice(), z.as_mut_slice());
            if r.len() != self.n || z.len() != self.n {
                return Err(PluginError::new(
                    ErrorKind::DIMENSION_MISMATCH,
                    format!(
                        "preconditioner is for {} unknowns, r has {} entries, z has {}",
                        self.n,
                        r.len(),
                        z.len()
                    ),
                ));
            }
            self.inner.apply(r, z);
            Ok(())
        })
    }

    fn memory_bytes(&self) -> usize {
        match guard(|| Ok(self.inner.memory_bytes())) {
            ROk(bytes) => bytes,
            RErr(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::{FnMonitor, Plugin};

    struct Diag;
    struct DiagPc(Vec<f64>);
    impl PreconditionerBuilder for Diag {
        type Preconditioner = DiagPc;
        fn build(&self, a: Csr<'_>) -> Result<DiagPc, PluginError> {
            Ok(DiagPc(a.diagonal().iter().map(|d| 1.0 / d).collect()))
        }
    }
    impl Preconditioner for DiagPc {
        fn apply(&self, r: &[f64], z: &mut [f64]) {
            for i in 0..r.len() {
                // Panics for index 1 on purpose when the diagonal is too short.
                z[i] = self.0[i] * r[i];
            }
        }
    }

    struct Boom;
    struct BoomPrepared;
    impl Solver for Boom {
        type Prepared = BoomPrepared;
        fn prepare(&self, _: Csr<'_>, _: &SolveParams) -> Result<BoomPrepared, PluginError> {
            Ok(BoomPrepared)
        }
    }
    impl PreparedSolver for BoomPrepared {
        fn solve(
            &mut self,
            _: Csr<'_>,
            _: &[f64],
            _: &mut [f64],
            _: &SolveParams,
            monitor: &mut Monitor<'_>,
        ) -> Result<SolveOutcome, PluginError> {
            if monitor.on_iteration(1, 0.5) {
                panic!("boom at iteration 1");
            }
            Err(PluginError::new(ErrorKind::STOPPED, "stopped"))
        }
        fn update_values(&mut self, _: Csr<'_>) -> Result<(), PluginError> {
            Ok(())
        }
    }

    fn laplace(n: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
        let (mut rp, mut ci, mut v) = (vec![0], vec![], vec![]);
        for i in 0..n {
            for j in i.saturating_sub(1)..(i + 2).min(n) {
                ci.push(j);
                v.push(if i == j { 2.0 } else { -1.0 });
            }
            rp.push(ci.len());
        }
        (rp, ci, v)
    }

    #[test]
    fn panics_become_errors_and_poison_the_object() {
        let plugin = Plugin::new("t", "0", "test")
            .solver("boom", "panics", |_| Ok(Boom))
            .preconditioner("diag", "diagonal", |_| Ok(Diag));
        let (rp, ci, v) = laplace(3);
        let a = Csr {
            nrows: 3,
            ncols: 3,
            row_ptr: &rp,
            col_idx: &ci,
            values: &v,
        };
        let solver = plugin.new_solver("boom", "{}").unwrap();
        let mut prepared = solver
            .prepare(a.to_abi(), SolveParams::default())
            .into_result()
            .unwrap();
        let (b, mut x) = (vec![1.0; 3], vec![0.0; 3]);
        let mut go_on = FnMonitor(|_, _| true);
        let monitor = Monitor::from_fn(&mut go_on).0;
        let err = prepared
            .solve(
                a.to_abi(),
                b.as_slice().into(),
                x.as_mut_slice().into(),
                SolveParams::default(),
                monitor,
            )
            .into_result()
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::PANICKED);
        assert!(err.message.contains("boom at iteration 1"), "{err}");
        // The object is poisoned: the next call fails without running plugin code.
        let mut stop = FnMonitor(|_, _| false);
        let err = prepared
            .solve(
                a.to_abi(),
                b.as_slice().into(),
                x.as_mut_slice().into(),
                SolveParams::default(),
                Monitor::from_fn(&mut stop).0,
            )
            .into_result()
            .unwrap_err();
        assert!(err.message.contains("panicked earlier"), "{err}");

        let pc = plugin
            .new_preconditioner("diag", "{}")
            .unwrap()
            .build(a.to_abi())
            .into_result()
            .unwrap();
        let mut z = vec![0.0; 3];
        assert!(
            pc.apply(b.as_slice().into(), z.as_mut_slice().into())
                .is_ok()
        );
        assert_eq!(z, vec![0.5; 3]);
        let err = pc
            .apply(b[..2].into(), z[..2].as_mut().into())
            .into_result()
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::DIMENSION_MISMATCH);

        let Err(err) = plugin.new_solver("nope", "{}") else {
            panic!("an unknown solver was created");
        };
        assert_eq!(err.kind, ErrorKind::UNKNOWN_COMPONENT);
        assert!(err.message.contains("boom"), "{err}");
    }

    #[test]
    fn malformed_csr_is_rejected() {
        let a = CsrRef {
            nrows: 2,
            ncols: 2,
            row_ptr: [0usize, 1].as_slice().into(),
            col_idx: [0usize].as_slice().into(),
            values: [1.0].as_slice().into(),
        };
        let err = Csr::try_from_abi(a).unwrap_err();
        assert_eq!(err.kind, ErrorKind::DIMENSION_MISMATCH);
    }
}
