//! The Rust functions compiled code calls for operations without a bit-exact machine
//! instruction (`sin`, `exp`, `powf`, ...).
//!
//! Each helper is the very definition the other backends use ([`Func::apply`], [`ast::pow`],
//! [`f64::powf`], [`BinOp::apply`]), so JIT results equal bytecode results bit for bit. They are
//! registered under their own symbol names, so the JIT never looks a name up in the process.

use crate::ast::{self, BinOp, Func};

/// A helper: its symbol, its address and its argument count.
#[derive(Debug, Clone, Copy)]
pub(super) struct Helper {
    /// Symbol name the compiled code imports.
    pub(super) name: &'static str,
    /// Address of the `extern "C"` function.
    pub(super) ptr: *const u8,
    /// 1 or 2 `f64` arguments; always one `f64` result.
    pub(super) arity: usize,
}

macro_rules! unary_helpers {
    ($($variant:ident)*) => {
        /// The helper computing `f`.
        pub(super) fn unary(f: Func) -> Helper {
            match f {
                $(Func::$variant => {
                    extern "C" fn helper(v: f64) -> f64 {
                        Func::$variant.apply(v)
                    }
                    Helper {
                        name: concat!("femscale_expr_", stringify!($variant)),
                        ptr: helper as extern "C" fn(f64) -> f64 as *const u8,
                        arity: 1,
                    }
                })*
            }
        }

        /// Every unary helper.
        fn all_unary() -> impl Iterator<Item = Helper> {
            [$(Func::$variant),*].into_iter().map(unary)
        }
    };
}

unary_helpers!(Sin Cos Tan Asin Acos Atan Sinh Cosh Tanh Exp Ln Log10 Sqrt Abs Floor Ceil Sign);

extern "C" fn pow_helper(a: f64, b: f64) -> f64 {
    ast::pow(a, b)
}

extern "C" fn powf_helper(a: f64, b: f64) -> f64 {
    a.powf(b)
}

extern "C" fn atan2_helper(a: f64, b: f64) -> f64 {
    BinOp::Atan2.apply(a, b)
}

/// `a ^ b` for a variable exponent, as [`ast::pow`].
pub(super) fn pow() -> Helper {
    Helper {
        name: "femscale_expr_pow",
        ptr: pow_helper as extern "C" fn(f64, f64) -> f64 as *const u8,
        arity: 2,
    }
}

/// `a ^ k` for a constant `k != 2`: [`f64::powf`], which is what [`ast::pow`] does then.
pub(super) fn powf() -> Helper {
    Helper {
        name: "femscale_expr_powf",
        ptr: powf_helper as extern "C" fn(f64, f64) -> f64 as *const u8,
        arity: 2,
    }
}

/// `atan2(a, b)`.
pub(super) fn atan2() -> Helper {
    Helper {
        name: "femscale_expr_atan2",
        ptr: atan2_helper as extern "C" fn(f64, f64) -> f64 as *const u8,
        arity: 2,
    }
}

/// Every helper, for the JIT's symbol table.
pub(super) fn all() -> impl Iterator<Item = Helper> {
    all_unary().chain([pow(), powf(), atan2()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_helpers_compute_the_shared_definitions() {
        let helpers: Vec<Helper> = all().collect();
        let mut names: Vec<&str> = helpers.iter().map(|h| h.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), helpers.len());
        assert_eq!(helpers.len(), Func::ALL.len() + 3);
        for f in Func::ALL {
            let h = unary(*f);
            assert_eq!(h.arity, 1);
            // SAFETY: `h.ptr` was made from an `extern "C" fn(f64) -> f64` just above.
            let g = unsafe { std::mem::transmute::<*const u8, extern "C" fn(f64) -> f64>(h.ptr) };
            for v in [-0.7, 0.0, 0.4, 2.5] {
                let (got, want) = (g(v), f.apply(v));
                assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()));
            }
        }
    }
}
