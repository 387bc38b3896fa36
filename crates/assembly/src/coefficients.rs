//! The coefficients of a form, checked and resolved against the mesh (constants, fields, tables
//! by subdomain), and the per-block buffers they are sampled into.

use std::ops::Range;

use femscale_core::{EllipticForm, Error, MeshView, Result, ScalarField};

/// A coefficient: constant (no evaluation needed), a field sampled at quadrature points, or
/// one of those per subdomain.
#[derive(Clone)]
enum Coefficient<'a> {
    Constant(f64),
    Field(&'a dyn ScalarField),
    /// The piece of each subdomain, by marker (sorted by marker).
    Subdomains(Vec<(i32, Piece<'a>)>),
}

/// A subdomain's piece of a coefficient.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Constant(f64),
    Field(&'a dyn ScalarField),
}

impl<'a> Piece<'a> {
    fn of(field: &'a dyn ScalarField) -> Self {
        field
            .as_constant()
            .map_or(Self::Field(field), Self::Constant)
    }
}

impl<'a> Coefficient<'a> {
    /// The coefficient `name` of `field` on `mesh`: a per-subdomain field is resolved against
    /// the mesh's subdomains (every subdomain covered, every key naming one); constants are
    /// checked.
    pub(crate) fn of(name: &str, field: &'a dyn ScalarField, mesh: &MeshView<'_>) -> Result<Self> {
        let Some(by_subdomain) = field.as_subdomains() else {
            let c = Piece::of(field);
            if let Piece::Constant(v) = c {
                check_value(name, v, [0.0; 3])?;
                return Ok(Self::Constant(v));
            }
            return Ok(Self::Field(field));
        };
        let known = || {
            (mesh.subdomains.iter())
                .map(|s| match &s.name {
                    Some(n) => format!("{n} ({})", s.id),
                    None => s.id.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if mesh.subdomains.is_empty() {
            return Err(Error::invalid(
                name,
                "is given per subdomain, but the mesh has no subdomain markers (read it from a \
                 Gmsh file with physical groups, or build it with cell markers)",
            ));
        }
        for (key, _) in by_subdomain.pieces() {
            if !mesh.subdomains.iter().any(|s| s.is_named(key)) {
                return Err(Error::invalid(
                    format!("{name}.{key}"),
                    format!("the mesh has no subdomain `{key}`; it has {}", known()),
                ));
            }
            // A name two subdomains carry would give the value to the first alone (and the
            // other's own entry, by number, would be dropped).
            let mut same = (mesh.subdomains.iter()).filter(|s| s.name.as_deref() == Some(key));
            if let (Some(a), Some(b)) = (same.next(), same.next()) {
                return Err(Error::invalid(
                    format!("{name}.{key}"),
                    format!(
                        "two subdomains are called `{key}` (markers {} and {}): give them by \
                         marker number",
                        a.id, b.id
                    ),
                ));
            }
        }
        // Each subdomain given once: `{ steel = 3, 2 = 1 }` names marker 2 twice (a name wins
        // over a number, so the `2` was dropped silently).
        let resolve = |key: &str| {
            (mesh
                .subdomains
                .iter()
                .position(|s| s.name.as_deref() == Some(key)))
            .or_else(|| mesh.subdomains.iter().position(|s| s.is_named(key)))
        };
        let mut given: Vec<Option<&str>> = vec![None; mesh.subdomains.len()];
        for (key, _) in by_subdomain.pieces() {
            if let Some(i) = resolve(key)
                && let Some(first) = given[i].replace(key)
            {
                let s = &mesh.subdomains[i];
                return Err(Error::invalid(
                    format!("{name}.{key}"),
                    format!(
                        "names subdomain `{}` (marker {}), as `{first}` does: give each \
                             subdomain once",
                        s.name.as_deref().unwrap_or("unnamed"),
                        s.id
                    ),
                ));
            }
        }
        let mut pieces = Vec::with_capacity(mesh.subdomains.len());
        for s in mesh.subdomains {
            let Some((key, piece)) = by_subdomain.piece_for(s) else {
                return Err(Error::invalid(
                    name,
                    format!(
                        "has no value on subdomain `{}` (marker {}); every subdomain needs one \
                         (the mesh has {})",
                        s.name.as_deref().unwrap_or("unnamed"),
                        s.id,
                        known()
                    ),
                ));
            };
            let piece = Piece::of(&**piece);
            if let Piece::Constant(v) = piece {
                check_value(&format!("{name}.{key}"), v, [0.0; 3])?;
            }
            pieces.push((s.id, piece));
        }
        pieces.sort_by_key(|p| p.0);
        Ok(Self::Subdomains(pieces))
    }

    /// Whether the coefficient needs the quadrature points mapped.
    fn is_sampled(&self) -> bool {
        !matches!(self, Self::Constant(_))
    }

    /// Samples the coefficient on cells `cells` (points `pts`, `nq` per cell) into `buf`;
    /// constants are already in `buf` (see [`Scratch::new`]).
    fn sample(
        &self,
        name: &str,
        mesh: &MeshView<'_>,
        cells: Range<usize>,
        nq: usize,
        pts: &[[f64; 3]],
        buf: &mut [f64],
    ) -> Result<()> {
        match self {
            Self::Constant(_) => return Ok(()),
            Self::Field(field) => field.eval_batch(pts, buf),
            Self::Subdomains(pieces) => {
                // Runs of consecutive cells of one subdomain are evaluated in one batch.
                let markers = &mesh.cell_markers[cells.clone()];
                let mut start = 0;
                while start < markers.len() {
                    let m = markers[start];
                    let end = start + markers[start..].iter().take_while(|&&x| x == m).count();
                    let piece = pieces
                        .binary_search_by_key(&m, |p| p.0)
                        .map(|i| pieces[i].1)
                        .map_err(|_| {
                            Error::invalid(name, format!("cell marker {m} has no subdomain entry"))
                        })?;
                    let (a, b) = (start * nq, end * nq);
                    match piece {
                        Piece::Constant(v) => buf[a..b].fill(v),
                        Piece::Field(f) => f.eval_batch(&pts[a..b], &mut buf[a..b]),
                    }
                    start = end;
                }
            }
        }
        if let Some(i) = buf
            .iter()
            .position(|v| !v.is_finite() || (name == "diffusion" && *v <= 0.0))
        {
            check_value(name, buf[i], pts[i])?;
        }
        Ok(())
    }
}

/// The coefficients of one form, checked and ready for sampling.
#[derive(Clone)]
pub(crate) struct Coefficients<'a> {
    k: Coefficient<'a>,
    c: Option<Coefficient<'a>>,
    f: Option<Coefficient<'a>>,
}

impl<'a> Coefficients<'a> {
    pub(crate) fn new(form: &'a EllipticForm, mesh: &MeshView<'_>) -> Result<Self> {
        let of = |name, f: &'a Option<femscale_core::SharedField>| {
            f.as_deref()
                .map(|f| Coefficient::of(name, f, mesh))
                .transpose()
        };
        Ok(Self {
            k: Coefficient::of("diffusion", &*form.diffusion, mesh)?,
            c: of("reaction", &form.reaction)?,
            f: of("source", &form.source)?,
        })
    }

    /// The coefficients the load vector needs: the source only (the diffusion is replaced by a
    /// constant that is never sampled).
    pub(crate) fn rhs_only(form: &'a EllipticForm, mesh: &MeshView<'_>) -> Result<Self> {
        let f = (form.source.as_deref())
            .map(|f| Coefficient::of("source", f, mesh))
            .transpose()?;
        Ok(Self {
            k: Coefficient::Constant(1.0),
            c: None,
            f,
        })
    }

    /// The diffusion alone (reaction and source left out), for sampling the flux `k grad u`
    /// at points of its own (the error estimators).
    pub(crate) fn diffusion_only(form: &'a EllipticForm, mesh: &MeshView<'_>) -> Result<Self> {
        Ok(Self {
            k: Coefficient::of("diffusion", &*form.diffusion, mesh)?,
            c: None,
            f: None,
        })
    }

    /// The diffusion when it is one constant on the whole mesh.
    pub(crate) fn constant_diffusion(&self) -> Option<f64> {
        match self.k {
            Coefficient::Constant(v) => Some(v),
            _ => None,
        }
    }

    /// The diffusion at `points` of the one cell `cell` (the piece of its subdomain) into
    /// `out`.
    pub(crate) fn diffusion_on_cell(
        &self,
        mesh: &MeshView<'_>,
        cell: usize,
        points: &[[f64; 3]],
        out: &mut [f64],
    ) -> Result<()> {
        if let Coefficient::Constant(v) = self.k {
            out.fill(v);
            return Ok(());
        }
        self.k
            .sample("diffusion", mesh, cell..cell + 1, points.len(), points, out)
    }

    /// Samples the sampled coefficients on `cells` (`nq` points per cell, already mapped into
    /// `scratch.points`) into `scratch`'s buffers.
    pub(crate) fn sample(
        &self,
        mesh: &MeshView<'_>,
        cells: Range<usize>,
        nq: usize,
        scratch: &mut Scratch,
    ) -> Result<()> {
        let len = cells.len() * nq;
        let pts = &scratch.points[..len];
        for (name, coef, buf) in [
            ("diffusion", Some(&self.k), &mut scratch.k),
            ("reaction", self.c.as_ref(), &mut scratch.c),
            ("source", self.f.as_ref(), &mut scratch.f),
        ] {
            if let Some(coef) = coef {
                coef.sample(name, mesh, cells.clone(), nq, pts, &mut buf[..len])?;
            }
        }
        Ok(())
    }

    /// Whether there is a reaction term to integrate.
    pub(crate) fn has_reaction(&self) -> bool {
        self.c.is_some()
    }

    /// Whether there is a source term to integrate.
    pub(crate) fn has_source(&self) -> bool {
        self.f.is_some()
    }

    pub(crate) fn sampled_fields(&self) -> usize {
        [Some(&self.k), self.c.as_ref(), self.f.as_ref()]
            .iter()
            .filter(|c| c.is_some_and(Coefficient::is_sampled))
            .count()
    }
}

fn check_value(name: &str, v: f64, p: [f64; 3]) -> Result<()> {
    let bad = if !v.is_finite() {
        Some(format!("evaluates to {v}"))
    } else if name == "diffusion" && v <= 0.0 {
        Some(format!("must be positive, got {v}"))
    } else {
        None
    };
    match bad {
        Some(reason) => Err(Error::invalid(
            name,
            format!("{reason} at (x, y, z) = ({}, {}, {})", p[0], p[1], p[2]),
        )),
        None => Ok(()),
    }
}

/// Per-thread buffers for one block.
pub(crate) struct Scratch {
    pub(crate) points: Vec<[f64; 3]>,
    pub(crate) k: Vec<f64>,
    pub(crate) c: Vec<f64>,
    pub(crate) f: Vec<f64>,
}

impl Scratch {
    pub(crate) fn new(len: usize, coefs: &Coefficients<'_>) -> Self {
        let fill = |c: Option<&Coefficient<'_>>| match c {
            Some(Coefficient::Constant(v)) => vec![*v; len],
            _ => vec![0.0; len],
        };
        Self {
            points: vec![[0.0; 3]; len],
            k: fill(Some(&coefs.k)),
            c: fill(coefs.c.as_ref()),
            f: fill(coefs.f.as_ref()),
        }
    }
}
