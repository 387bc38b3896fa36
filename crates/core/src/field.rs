//! Scalar fields: coefficients, sources, boundary data and exact solutions as functions of position.
//!
//! Assembly evaluates fields at every quadrature point, so the trait has a batched entry point
//! ([`ScalarField::eval_batch`]) that implementations such as compiled expressions override to
//! amortise dispatch, and a constant shortcut ([`ScalarField::as_constant`]) that lets kernels skip
//! evaluation altogether.

use std::fmt;
use std::sync::Arc;

/// A real-valued function of position `p = [x, y, z]` (unused coordinates are 0).
pub trait ScalarField: Send + Sync + fmt::Debug {
    /// The value at `p`.
    fn eval(&self, p: [f64; 3]) -> f64;

    /// Values at many points: `out[i] = f(points[i])`.
    ///
    /// # Panics
    /// If `out.len() != points.len()`.
    fn eval_batch(&self, points: &[[f64; 3]], out: &mut [f64]) {
        assert_eq!(
            points.len(),
            out.len(),
            "eval_batch: output length differs from input"
        );
        for (o, p) in out.iter_mut().zip(points) {
            *o = self.eval(*p);
        }
    }

    /// `Some(c)` when the field is the constant `c` everywhere.
    fn as_constant(&self) -> Option<f64> {
        None
    }

    /// The gradient at `p`. The default uses central differences (relative accuracy about
    /// 1e-10 for smooth fields); implementations with exact derivatives override it.
    fn gradient(&self, p: [f64; 3]) -> [f64; 3] {
        if self.as_constant().is_some() {
            return [0.0; 3];
        }
        let mut g = [0.0; 3];
        for d in 0..3 {
            let h = 1e-5 * (1.0 + p[d].abs());
            let (mut plus, mut minus) = (p, p);
            plus[d] += h;
            minus[d] -= h;
            g[d] = (self.eval(plus) - self.eval(minus)) / (2.0 * h);
        }
        g
    }

    /// Gradients at many points: `out[i] = grad f(points[i])`. Implementations with a batched
    /// evaluator override it; the default calls [`ScalarField::gradient`] per point.
    ///
    /// # Panics
    /// If `out.len() != points.len()`.
    fn gradient_batch(&self, points: &[[f64; 3]], out: &mut [[f64; 3]]) {
        assert_eq!(
            points.len(),
            out.len(),
            "gradient_batch: output length differs from input"
        );
        for (o, p) in out.iter_mut().zip(points) {
            *o = self.gradient(*p);
        }
    }

    /// Values and gradients at many points together: `values[i] = f(points[i])`,
    /// `gradients[i] = grad f(points[i])`. Fields that share work between the two override it
    /// (an expression evaluates both in one compiled kernel, computing `sin(pi*x)` once for
    /// `sin(pi*x)*y` and its gradient); the default calls [`ScalarField::eval_batch`] and
    /// [`ScalarField::gradient_batch`].
    ///
    /// # Panics
    /// If `values` or `gradients` do not have one entry per point.
    fn value_and_gradient_batch(
        &self,
        points: &[[f64; 3]],
        values: &mut [f64],
        gradients: &mut [[f64; 3]],
    ) {
        self.eval_batch(points, values);
        self.gradient_batch(points, gradients);
    }

    /// A short human-readable description (the expression text, the constant, ...).
    fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// `Some` when the field is given per subdomain ([`SubdomainField`]): assemblers then
    /// evaluate, on each cell, the piece of the cell's subdomain.
    fn as_subdomains(&self) -> Option<&SubdomainField> {
        None
    }
}

/// A coefficient given per subdomain: on the cells of each subdomain (named by its name or its
/// marker number, `"copper"` or `"2"`) its own field.
///
/// It has no value at a point alone (on an interface two pieces meet): [`ScalarField::eval`]
/// is NaN, which any pointwise use reports as a non-finite value. Assemblers that know the
/// cells' markers find it through [`ScalarField::as_subdomains`].
#[derive(Debug, Clone)]
pub struct SubdomainField {
    pieces: Vec<(String, SharedField)>,
}

impl SubdomainField {
    /// The field with one piece per subdomain key.
    pub fn new(pieces: Vec<(String, SharedField)>) -> Self {
        Self { pieces }
    }

    /// The pieces, as given.
    pub fn pieces(&self) -> &[(String, SharedField)] {
        &self.pieces
    }

    /// The piece of subdomain `s`, with its key: the one keyed by the subdomain's name, else
    /// by its marker number (a name wins over a number that happens to equal another
    /// subdomain's id).
    pub fn piece_for(&self, s: &crate::mesh::Subdomain) -> Option<&(String, SharedField)> {
        (self.pieces.iter())
            .find(|(k, _)| s.name.as_deref() == Some(k.as_str()))
            .or_else(|| self.pieces.iter().find(|(k, _)| s.is_named(k)))
    }
}

impl ScalarField for SubdomainField {
    fn eval(&self, _p: [f64; 3]) -> f64 {
        f64::NAN
    }

    fn describe(&self) -> String {
        let pieces: Vec<String> = (self.pieces.iter())
            .map(|(k, f)| format!("{k} = {}", f.describe()))
            .collect();
        format!("{{ {} }}", pieces.join(", "))
    }

    fn as_subdomains(&self) -> Option<&SubdomainField> {
        Some(self)
    }
}

/// A field shared between threads and components.
pub type SharedField = Arc<dyn ScalarField>;

/// A constant field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant(pub f64);

impl ScalarField for Constant {
    fn eval(&self, _: [f64; 3]) -> f64 {
        self.0
    }

    fn eval_batch(&self, _: &[[f64; 3]], out: &mut [f64]) {
        out.fill(self.0);
    }

    fn as_constant(&self) -> Option<f64> {
        Some(self.0)
    }

    fn describe(&self) -> String {
        self.0.to_string()
    }
}

/// A field backed by a Rust closure, for embedding users.
pub struct FnField<F> {
    f: F,
    label: String,
}

impl<F: Fn([f64; 3]) -> f64 + Send + Sync> FnField<F> {
    /// Wraps `f`; `label` is what reports show for it.
    pub fn new(label: impl Into<String>, f: F) -> Self {
        Self {
            f,
            label: label.into(),
        }
    }

    /// Wraps `f` as a [`SharedField`].
    pub fn shared(label: impl Into<String>, f: F) -> SharedField
    where
        F: 'static,
    {
        Arc::new(Self::new(label, f))
    }
}

impl<F> fmt::Debug for FnField<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnField({})", self.label)
    }
}

impl<F: Fn([f64; 3]) -> f64 + Send + Sync> ScalarField for FnField<F> {
    fn eval(&self, p: [f64; 3]) -> f64 {
        (self.f)(p)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_gradient_is_accurate_for_smooth_fields() {
        let f = FnField::new("sin(x) y^2", |p: [f64; 3]| p[0].sin() * p[1] * p[1]);
        let p = [0.3, 0.7, 0.0];
        let g = f.gradient(p);
        assert!((g[0] - 0.3f64.cos() * 0.49).abs() < 1e-9);
        assert!((g[1] - 0.3f64.sin() * 1.4).abs() < 1e-9);
        assert_eq!(g[2], 0.0);
        assert_eq!(Constant(2.0).gradient(p), [0.0; 3]);
    }
}
