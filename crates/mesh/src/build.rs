//! [`MeshBuilder`]: a mesh from a caller's arrays (coordinates, connectivity, optional cell and
//! facet markers), validated, with inverted cells reoriented.

use std::collections::BTreeMap;

use femscale_core::{BoundaryPart, CellKind, Error, Order, Result, Subdomain};
use rayon::prelude::*;

use crate::conformity::check_exterior_conforming;
use crate::geometry::{orientation, reversed_order};
use crate::mesh::Mesh;
use crate::names::Names;
use crate::order2::{EntityNodes, is_curved, reversed_layout};
use crate::overlap::check_no_overlap;
use crate::topology::{facet_key, facets_and_exterior, key_nodes};

/// The name of the part holding every exterior facet, added unless the caller names one so.
pub const EXTERIOR_PART: &str = "all";

/// Builds a [`Mesh`] from arrays: [`Mesh::builder`], then markers and parts, then
/// [`MeshBuilder::build`].
///
/// ```
/// use femscale_core::CellKind;
/// use femscale_mesh::Mesh;
/// // Two triangles of the unit square, the second given clockwise (it is reoriented).
/// let coords = vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
/// let mesh = Mesh::builder(2, coords, CellKind::Triangle, vec![0, 1, 2, 0, 3, 2])
///     .cell_markers(vec![1, 2])
///     .subdomain_name(1, "copper")
///     .facet_markers(vec![0, 1, 3, 0], vec![11, 12])
///     .boundary_name(11, "bottom")
///     .build()
///     .unwrap();
/// assert_eq!(mesh.reoriented_cells(), 1);
/// assert_eq!(mesh.boundary_part("bottom").unwrap().nodes, vec![0, 1]);
/// assert_eq!(mesh.boundary_part("12").unwrap().id, Some(12)); // unnamed: called by its number
/// assert_eq!(mesh.boundary_part("all").unwrap().facets.len(), 8); // four exterior edges
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MeshBuilder {
    dim: usize,
    coords: Vec<f64>,
    kind: CellKind,
    order: Order,
    cells: Vec<usize>,
    cell_markers: Vec<i32>,
    subdomain_names: BTreeMap<i32, String>,
    facets: Vec<usize>,
    facet_markers: Vec<i32>,
    boundary_names: BTreeMap<i32, String>,
    parts: Vec<BoundaryPart>,
    exterior: Option<String>,
    names: Names,
    overlap_check: bool,
}

impl Mesh {
    /// Starts a mesh of `cells` (`kind.nodes_per_cell()` node indices each, or as many as
    /// [`MeshBuilder::order`] says) on nodes with `dim` coordinates each.
    pub fn builder(dim: usize, coords: Vec<f64>, kind: CellKind, cells: Vec<usize>) -> MeshBuilder {
        MeshBuilder {
            dim,
            coords,
            kind,
            order: Order::Linear,
            cells,
            cell_markers: Vec::new(),
            subdomain_names: BTreeMap::new(),
            facets: Vec::new(),
            facet_markers: Vec::new(),
            boundary_names: BTreeMap::new(),
            parts: Vec::new(),
            exterior: Some(EXTERIOR_PART.into()),
            names: Names::default(),
            overlap_check: true,
        }
    }
}

impl MeshBuilder {
    /// The node layout of the cells and facets (default [`Order::Linear`]): for
    /// [`Order::Quadratic`], cells of `kind.nodes_per_cell_of(order)` nodes and facets of
    /// `kind.nodes_per_facet_of(order)` nodes in the layouts of [`femscale_core::lagrange`].
    /// The mesh is marked curved ([`Mesh::is_curved`]) when a higher-order node lies off its
    /// straight-sided position.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The subdomain marker of each cell (one per cell).
    pub fn cell_markers(mut self, markers: Vec<i32>) -> Self {
        self.cell_markers = markers;
        self
    }

    /// Names the subdomain of marker `id`.
    pub fn subdomain_name(mut self, id: i32, name: impl Into<String>) -> Self {
        self.subdomain_names.insert(id, name.into());
        self
    }

    /// Marked facets: `facets` holds `nodes_per_facet` node indices per facet, `markers` one
    /// marker per facet. Each marker becomes a boundary part (named by
    /// [`MeshBuilder::boundary_name`], or by its number) with the marker as its id. Facets may
    /// be interior (an interface between subdomains).
    pub fn facet_markers(mut self, facets: Vec<usize>, markers: Vec<i32>) -> Self {
        self.facets = facets;
        self.facet_markers = markers;
        self
    }

    /// Names the boundary part of facet marker `id`.
    pub fn boundary_name(mut self, id: i32, name: impl Into<String>) -> Self {
        self.boundary_names.insert(id, name.into());
        self
    }

    /// Adds a boundary part given directly (its facet nodes are added to its nodes).
    pub fn boundary_part(mut self, part: BoundaryPart) -> Self {
        self.parts.push(part);
        self
    }

    /// Adds boundary parts given directly.
    pub fn boundary_parts(mut self, parts: impl IntoIterator<Item = BoundaryPart>) -> Self {
        self.parts.extend(parts);
        self
    }

    /// The name of the part made of all exterior facets (default [`EXTERIOR_PART`], `all`);
    /// `None` for no such part. It is not added when another part already has the name.
    pub fn exterior_part(mut self, name: Option<&str>) -> Self {
        self.exterior = name.map(str::to_string);
        self
    }

    /// How errors name cells and nodes (a file's element and node tags; by default their
    /// indices).
    pub(crate) fn names(mut self, names: Names) -> Self {
        self.names = names;
        self
    }

    /// Skips the search for unconnected parts of the mesh that cover the same space (for a
    /// mesh made from a valid one, such as its refinement).
    pub(crate) fn without_overlap_check(mut self) -> Self {
        self.overlap_check = false;
        self
    }

    /// Validates and builds the mesh: coordinates finite, connectivity a whole number of cells
    /// with node indices in range, one marker per cell (if any), every cell of positive
    /// measure (and convex, for quadrilaterals and hexahedra) either as given or reversed —
    /// reversed cells are reoriented and counted ([`Mesh::reoriented_cells`]) — no two cells
    /// on the same nodes, every facet of a part a facet of some cell, part names unique. For
    /// order 2: one node per edge (and hexahedron face) shared by all its cells, no node in two
    /// roles, part facets with their cells' higher-order nodes; validity and orientation are
    /// judged by the vertices, and a curved cell must not fold: its Jacobian may not change
    /// sign at a node of the reference cell (checked there, not everywhere). Parts are sets of
    /// facets (a facet given twice is kept once), and no part may be named like another part's
    /// marker (`"1"` beside the part of marker 1). The mesh
    /// must be conforming: no exterior vertex on an exterior facet it is not a vertex of (a
    /// hanging node, or an interface with two copies of its nodes), unless the facet is in a
    /// named boundary part that is not the whole exterior (the sides of a crack meant to be
    /// open), and no vertex may lie inside a cell of a part of the mesh it is not connected to
    /// (two regions meshed separately over the same space; not searched in curved meshes).
    ///
    /// # Errors
    /// [`Error::Mesh`] naming the first offending cell, facet, marker, part or node.
    pub fn build(self) -> Result<Mesh> {
        let fail = |message: String| Error::Mesh {
            location: None,
            message,
        };
        let names = self.names;
        let mut subdomains: Vec<Subdomain> = {
            // Markers come in runs (a file's cells by entity): one set insertion per run.
            let mut ids = std::collections::BTreeSet::new();
            let mut last = None;
            for &m in &self.cell_markers {
                if last != Some(m) {
                    ids.insert(m);
                    last = Some(m);
                }
            }
            (ids.into_iter())
                .map(|id| Subdomain {
                    id,
                    name: self.subdomain_names.get(&id).cloned(),
                })
                .collect()
        };
        if let Some((id, _)) = (self.subdomain_names.iter()).find(|(_, n)| n.trim().is_empty()) {
            return Err(fail(format!(
                "subdomain {id} has an empty or blank name (give it a name, or none)"
            )));
        }
        // A key names a subdomain by name or by marker: a name that is another subdomain's
        // number would name both.
        for (id, name) in &self.subdomain_names {
            let other = name.trim().parse::<i32>().ok().filter(|m| m != id);
            if let Some(m) = other.filter(|m| subdomains.binary_search_by_key(m, |s| s.id).is_ok())
            {
                return Err(fail(format!(
                    "subdomain {id} is named `{name}`, the marker of subdomain {m}: a key `{name}` \
                     would name both; rename it"
                )));
            }
        }
        if let Some(id) = (self.subdomain_names.keys())
            .find(|id| subdomains.binary_search_by_key(*id, |s| s.id).is_err())
        {
            return Err(fail(format!(
                "subdomain {id} (`{}`) is named, but no cell carries marker {id}",
                self.subdomain_names[id]
            )));
        }
        subdomains.shrink_to_fit();
        let mut mesh = Mesh {
            dim: self.dim,
            coords: self.coords,
            cell_kind: self.kind,
            order: self.order,
            curved: false,
            cells: self.cells,
            boundary: Vec::new(),
            cell_markers: self.cell_markers,
            subdomains,
            reoriented_cells: 0,
            derived: Default::default(),
        };
        mesh.view().validate()?;
        mesh.reoriented_cells = orient_cells(&mut mesh, &names)?;
        let entities = match mesh.order {
            Order::Linear => None,
            Order::Quadratic => Some(EntityNodes::check(&mesh.view(), &names)?),
        };
        let (npf, fv) = (
            mesh.view().nodes_per_facet(),
            mesh.cell_kind.nodes_per_facet(),
        );
        let mut parts = self.parts;
        if !self.facets.len().is_multiple_of(npf)
            || self.facets.len() / npf != self.facet_markers.len()
        {
            return Err(fail(format!(
                "{} facet node indices and {} facet markers: give {npf} nodes and one marker per facet",
                self.facets.len(),
                self.facet_markers.len()
            )));
        }
        let mut by_marker: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (f, &m) in self.facets.chunks_exact(npf).zip(&self.facet_markers) {
            by_marker.entry(m).or_default().extend_from_slice(f);
        }
        if let Some((id, _)) = (self.boundary_names.iter()).find(|(_, n)| n.trim().is_empty()) {
            return Err(fail(format!(
                "boundary {id} has an empty or blank name (give it a name, or none)"
            )));
        }
        if let Some(id) = (self.boundary_names.keys()).find(|id| !by_marker.contains_key(id)) {
            return Err(fail(format!(
                "boundary {id} (`{}`) is named, but no facet carries marker {id}",
                self.boundary_names[id]
            )));
        }
        // Parts made of markers nobody named (a Gmsh file's entity tags, when it has no
        // groups) say nothing about intent: they do not excuse touching facets.
        let mut unnamed = Vec::new();
        for (id, facets) in by_marker {
            let name = match self.boundary_names.get(&id) {
                Some(name) => name.clone(),
                None => {
                    unnamed.push(parts.len());
                    id.to_string()
                }
            };
            parts.push(BoundaryPart::from_facets(name, facets).with_id(id));
        }
        // One pass over all cell facets finds duplicate cells, non-manifold facets, the
        // exterior, and the facets parts may name.
        let (keys, exterior) = facets_and_exterior(&mesh.view(), &names)?;
        for part in &parts {
            check_part_facets(part, (npf, fv), mesh.num_nodes(), &keys, &names)?;
            if let Some(entities) = &entities {
                for f in part.facets.chunks_exact(npf) {
                    entities.check_facet(mesh.cell_kind, &part.name, f, &names)?;
                }
            }
        }
        // Checked whole and in range above.
        for part in &mut parts {
            dedup_part_facets(part, (npf, fv));
        }
        let marked = crack_facets(
            &parts,
            &unnamed,
            self.exterior.as_deref(),
            &exterior,
            (npf, fv),
        );
        check_exterior_conforming(&mesh.view(), &exterior, (npf, fv), &marked, &names)?;
        if let Some(name) = self.exterior {
            match parts.iter().find(|p| p.name == name) {
                None => parts.push(BoundaryPart::from_facets(name, exterior)),
                Some(part) => check_same_facets(part, &exterior, (npf, fv))?,
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(parts.len());
        if let Some(part) = parts.iter().find(|p| !seen.insert(p.name.as_str())) {
            return Err(fail(format!(
                "two boundary parts are called `{}`",
                part.name
            )));
        }
        let by_marker: std::collections::HashMap<i32, &BoundaryPart> =
            (parts.iter()).filter_map(|p| Some((p.id?, p))).collect();
        for part in &parts {
            if let Some(other) =
                marker_named_by(&part.name, part.id, |m| by_marker.get(&m).copied())
            {
                return Err(fail(ambiguous_name(&part.name, other)));
            }
        }
        for part in &mut parts {
            part.nodes.extend_from_slice(&part.facets);
            part.nodes.par_sort_unstable();
            part.nodes.dedup();
        }
        mesh.boundary = parts;
        mesh.curved = mesh.order == Order::Quadratic && is_curved(&mesh.view());
        // Cells are located as straight-sided: a curved mesh is not searched (a body beside a
        // concave curved boundary would lie inside its chords).
        if self.overlap_check && !mesh.curved {
            check_no_overlap(&mesh.view(), &names)?;
        }
        if mesh.curved {
            crate::isoparametric::check_curved_cells(&mesh, &names)?;
        }
        mesh.validate()?;
        Ok(mesh)
    }
}

/// Reorients cells that are valid only reversed (judged by their vertices); returns how many.
fn orient_cells(mesh: &mut Mesh, names: &Names) -> Result<usize> {
    let kind = mesh.cell_kind;
    let nv = kind.num_vertices();
    let npc = kind.nodes_per_cell_of(mesh.order);
    let (dim, coords) = (mesh.dim, &mesh.coords);
    let point = |i: usize| {
        let mut p = [0.0; 3];
        p[..dim].copy_from_slice(&coords[i * dim..(i + 1) * dim]);
        p
    };
    let verdicts: Vec<Option<bool>> = mesh
        .cells
        .par_chunks_exact(npc)
        .map(|nodes| {
            let mut x = [[0.0; 3]; 8];
            for (xi, &n) in x.iter_mut().zip(&nodes[..nv]) {
                *xi = point(n);
            }
            orientation(kind, &x[..nv])
        })
        .collect();
    if let Some(c) = verdicts.iter().position(Option::is_none) {
        let nodes = &mesh.cells[c * npc..(c + 1) * npc];
        // The cell's extent: a measure of extent^dim beyond the range of f64 is not a
        // degenerate cell but a mesh in units double precision cannot measure.
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for &n in &nodes[..nv] {
            let p = point(n);
            for d in 0..3 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let extent = (0..dim).map(|d| hi[d] - lo[d]).fold(0.0, f64::max);
        let measure_scale = extent.powi(dim as i32);
        let why = if !measure_scale.is_finite() {
            format!(
                ": its measure overflows double precision (extent {extent:e}); scale the mesh \
                 (meters to kilometers, ...)"
            )
        } else if extent > 0.0 && measure_scale < 1e-280 {
            format!(": its measure underflows double precision (extent {extent:e}); scale the mesh")
        } else {
            match kind {
                CellKind::Quadrilateral | CellKind::Hexahedron => {
                    ", folded or not convex (a non-positive Jacobian at a corner)".to_string()
                }
                _ => " (zero measure)".to_string(),
            }
        };
        return Err(Error::Mesh {
            location: None,
            message: format!(
                "{} (nodes {}) is degenerate{why}",
                names.cell(c),
                names.nodes(nodes),
            ),
        });
    }
    let order = reversed_layout(kind, mesh.order, reversed_order(kind));
    let mut count = 0;
    let mut reversed = vec![0usize; npc];
    for (c, v) in verdicts.iter().enumerate() {
        if *v == Some(false) {
            let cell = &mut mesh.cells[c * npc..(c + 1) * npc];
            for (r, &o) in reversed.iter_mut().zip(&order) {
                *r = cell[o];
            }
            cell.copy_from_slice(&reversed);
            count += 1;
        }
    }
    Ok(count)
}

/// The facets (keys) of the parts that may excuse touching exterior facets (the sides of a
/// crack): parts that are named (not `unnamed`, positions in `parts`), not the exterior part's
/// name, and not the whole exterior (a group of every boundary curve says nothing about one
/// interface).
fn crack_facets(
    parts: &[BoundaryPart],
    unnamed: &[usize],
    exterior_name: Option<&str>,
    exterior: &[usize],
    (npf, fv): (usize, usize),
) -> std::collections::HashSet<u128> {
    let outside: std::collections::HashSet<u128> = (exterior.chunks_exact(npf))
        .map(|f| facet_key(&f[..fv]))
        .collect();
    let mut is_unnamed = vec![false; parts.len()];
    for &i in unnamed {
        is_unnamed[i] = true;
    }
    let mut marked = std::collections::HashSet::new();
    for (i, part) in parts.iter().enumerate() {
        if is_unnamed[i] || Some(part.name.as_str()) == exterior_name {
            continue;
        }
        let keys: std::collections::HashSet<u128> = (part.facets.chunks_exact(npf))
            .map(|f| facet_key(&f[..fv]))
            .collect();
        if outside.iter().all(|k| keys.contains(k)) {
            continue;
        }
        marked.extend(keys);
    }
    marked
}

/// The part (found by `part_of_marker`) whose marker `name` writes as a number (`"1"` names
/// the part of marker 1), other than a part of marker `own` (a part named by its own marker).
fn marker_named_by<'a>(
    name: &str,
    own: Option<i32>,
    part_of_marker: impl Fn(i32) -> Option<&'a BoundaryPart>,
) -> Option<&'a BoundaryPart> {
    let marker = name.trim().parse::<i32>().ok()?;
    (own != Some(marker))
        .then(|| part_of_marker(marker))
        .flatten()
}

/// Why a part may not be called `name`: `where = 1` finds parts by name and by marker.
fn ambiguous_name(name: &str, other: &BoundaryPart) -> String {
    format!(
        "boundary part `{name}` is named like the marker of part `{}` ({name}): `where = {name}` \
         would name both; rename the part",
        other.name
    )
}

/// Keeps each facet of `part` once (the first of the same vertices): a part is a set of
/// facets, and a facet listed twice (two Gmsh elements on one edge, an edge in two curves of
/// one group) would count twice in the part's boundary integrals. Returns how many went.
fn dedup_part_facets(part: &mut BoundaryPart, (npf, fv): (usize, usize)) -> usize {
    let mut keys: Vec<u128> = (part.facets.chunks_exact(npf))
        .map(|f| facet_key(&f[..fv]))
        .collect();
    keys.sort_unstable();
    if keys.windows(2).all(|w| w[0] != w[1]) {
        return 0;
    }
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    let before = part.facets.len() / npf;
    let facets: Vec<usize> = (part.facets.chunks_exact(npf))
        .filter(|f| seen.insert(facet_key(&f[..fv])))
        .flatten()
        .copied()
        .collect();
    part.facets = facets;
    before - part.facets.len() / npf
}

/// Checks that a given part named like the exterior part (`all`) is the exterior: anything
/// else would change what `where = "all"` means.
fn check_same_facets(
    part: &BoundaryPart,
    exterior: &[usize],
    (npf, fv): (usize, usize),
) -> Result<()> {
    let keys = |facets: &[usize]| {
        let mut keys: Vec<u128> = (facets.chunks_exact(npf))
            .map(|f| facet_key(&f[..fv]))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    let (given, all) = (keys(&part.facets), keys(exterior));
    if given == all {
        return Ok(());
    }
    let outside = given
        .iter()
        .filter(|k| all.binary_search(k).is_err())
        .count();
    let id = part
        .id
        .map(|id| format!(" (marker {id})"))
        .unwrap_or_default();
    Err(Error::Mesh {
        location: None,
        message: format!(
            "boundary part `{}`{id} has {} facets, {outside} of them not exterior, but the mesh \
             has {} exterior facets: `{}` is the name of the part of every exterior facet, so \
             a group by that name must be exactly those; rename the group",
            part.name,
            given.len(),
            all.len(),
            part.name
        ),
    })
}

/// Checks that `part`'s facets (`npf` nodes each, vertices first) are whole, in range and
/// facets of cells (`keys`, sorted, by vertices).
fn check_part_facets(
    part: &BoundaryPart,
    (npf, fv): (usize, usize),
    nodes: usize,
    keys: &[u128],
    names: &Names,
) -> Result<()> {
    let fail = |message: String| {
        Err(Error::Mesh {
            location: None,
            message,
        })
    };
    if !part.facets.len().is_multiple_of(npf) {
        return fail(format!("boundary part `{}` has a partial facet", part.name));
    }
    for f in part.facets.chunks_exact(npf) {
        if let Some(v) = f.iter().find(|&&v| v >= nodes) {
            return fail(format!(
                "boundary part `{}` refers to node {v}, but the mesh has {nodes} nodes",
                part.name
            ));
        }
        let key = facet_key(&f[..fv]);
        if keys.binary_search(&key).is_err() {
            return fail(format!(
                "boundary part `{}` has facet {}, which is not a facet of any cell",
                part.name,
                names.nodes(&key_nodes(key))
            ));
        }
    }
    Ok(())
}

fn mesh_error(message: String) -> Error {
    Error::Mesh {
        location: None,
        message,
    }
}

impl Mesh {
    /// Adds a boundary part `name` made of the exterior facets whose nodes all satisfy
    /// `on_part` (e.g. `|p| p[0].abs() < 1e-12` for the facets on x = 0): how a mesh without
    /// facet markers gets named parts. On a mesh of order 2 the facets are in its layout and
    /// all their nodes must satisfy `on_part`. Returns the number of facets.
    ///
    /// ```
    /// use femscale_mesh::{Mesh, RectangleSpec};
    /// let mut mesh = Mesh::rectangle(&RectangleSpec { nx: 4, ny: 2, ..Default::default() }).unwrap();
    /// let n = mesh.add_boundary_part_where("inlet", |p| p[0] < 1e-12 && p[1] > 0.49).unwrap();
    /// assert_eq!(n, 1);
    /// assert_eq!(mesh.boundary_part("inlet").unwrap().nodes.len(), 2);
    /// ```
    ///
    /// # Errors
    /// [`Error::Mesh`] if a part is already called `name` or no exterior facet matches.
    pub fn add_boundary_part_where(
        &mut self,
        name: &str,
        on_part: impl Fn([f64; 3]) -> bool,
    ) -> Result<usize> {
        if name.trim().is_empty() {
            return Err(mesh_error(
                "a boundary part needs a name that is not empty or blank".into(),
            ));
        }
        if self.boundary.iter().any(|p| p.name == name) {
            return Err(mesh_error(format!(
                "a boundary part is already called `{name}`"
            )));
        }
        let boundary = &self.boundary;
        if let Some(other) =
            marker_named_by(name, None, |m| boundary.iter().find(|p| p.id == Some(m)))
        {
            return Err(mesh_error(ambiguous_name(name, other)));
        }
        let part = self.part_where(name, usize::MAX, on_part)?;
        let count = part.facets.len() / self.view().nodes_per_facet();
        self.boundary.push(part);
        Ok(count)
    }

    /// The part `name` again after the mesh changed (refined cells): the exterior facets whose
    /// *vertices* all satisfy `on_part` now (its inherited facets are dropped: a child of one
    /// of its facets may fail `on_part`, and a facet that failed it may have children that
    /// pass). On a mesh of order 1 that is [`Mesh::add_boundary_part_where`]'s rule; on a mesh
    /// of order 2 the mid-facet nodes are not tested, so that the part is the one its mesh of
    /// order 1 would have, lifted (how a configuration's parts are built). Adds the part when
    /// there is none of that name. Returns the number of facets.
    ///
    /// # Errors
    /// As [`Mesh::add_boundary_part_where`], except for the part of that name.
    pub fn redefine_boundary_part_where(
        &mut self,
        name: &str,
        on_part: impl Fn([f64; 3]) -> bool,
    ) -> Result<usize> {
        let Some(index) = (self.boundary.iter()).position(|p| p.name == name && p.id.is_none())
        else {
            return self.add_boundary_part_where(name, on_part);
        };
        let vertices = self.cell_kind.nodes_per_facet();
        let part = self.part_where(name, vertices, on_part)?;
        let count = part.facets.len() / self.view().nodes_per_facet();
        self.boundary[index] = part;
        Ok(count)
    }

    /// The part `name` of the exterior facets whose first `tested` nodes (vertices first; all
    /// for `usize::MAX`) satisfy `on_part`.
    fn part_where(
        &mut self,
        name: &str,
        tested: usize,
        on_part: impl Fn([f64; 3]) -> bool,
    ) -> Result<BoundaryPart> {
        // The mesh changes: its views are checked again until `validate` runs.
        self.derived = Default::default();
        let exterior = match self
            .boundary
            .iter()
            .find(|p| p.name == EXTERIOR_PART && p.id.is_none())
        {
            Some(all) if !all.facets.is_empty() => all.facets.clone(),
            _ => facets_and_exterior(&self.view(), &Names::default())?.1,
        };
        let view = self.view();
        let npf = view.nodes_per_facet();
        let facets: Vec<usize> = exterior
            .chunks_exact(npf)
            .filter(|f| f.iter().take(tested).all(|&n| on_part(view.point(n))))
            .flatten()
            .copied()
            .collect();
        if facets.is_empty() {
            let nodes = if tested < npf { "vertices" } else { "nodes" };
            return Err(mesh_error(format!(
                "no exterior facet has all its {nodes} where boundary part `{name}` was asked for"
            )));
        }
        let mut part = BoundaryPart::from_facets(name, facets);
        part.nodes = part.facets.clone();
        part.nodes.sort_unstable();
        part.nodes.dedup();
        Ok(part)
    }
}
