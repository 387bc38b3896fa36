//! Gmsh `.msh` input: MSH 2.2 and 4.1, ASCII and binary, read into [`MshFile`], a plain record
//! of points, element blocks and physical groups that a converter maps to a mesh.
//!
//! * Element types: points (15), lines (1), triangles (2), quadrangles (3), tetrahedra (4),
//!   hexahedra (5) and their second-order forms line3 (8), triangle6 (9), quad9 (10), tet10
//!   (11), hex27 (12). Any other type is an error that names it (`second-order quadrangle (8
//!   nodes) (type 16) is not supported: ...`).
//! * Physical groups: 4.1 takes them per entity from `$Entities`; 2.2 from each element's
//!   first tag, where gmsh writes an element once per physical group of its entity: those copies
//!   are merged into one element with all the tags. Elements outside physical groups
//!   (`Mesh.SaveAll = 1`, or files without groups) are kept with an empty
//!   [`ElementBlock::physical`]. A `$PhysicalNames` entry for a group no entity has is an error.
//! * Nodes: any tags (sparse, unordered, per entity, including entities without elements);
//!   only nodes some element uses are kept, in tag order; `z` is kept as written.
//! * Other sections (`$Periodic`, `$NodeData`, `$Comments`, ...) are skipped.
//! * Binary files must be little-endian with 8-byte `size_t` (data size 8): a file written on a
//!   big-endian machine is refused with an error, not byte-swapped.
//!
//! Errors are [`Error::MeshFile`]: file, section, line (ASCII) or byte offset (binary files,
//! for all of their sections), and the reason. No input panics, and no header count is
//! allocated before the data that backs it is there: capacities are capped by what the
//! remaining bytes can hold.
//!
//! * Partitioned files (`$PartitionedEntities`) are refused.
//!
//! The whole file is read into memory and parsed in place; ASCII numbers go through std's
//! `f64` parser (a 1M-triangle 4.1 file reads in about 0.13 s ASCII, 0.07 s binary, so no
//! faster float crate was added).
//!
//! The `mshio` crate (0.4.2) was evaluated on these test files and is not used: it reads 4.1
//! only (2.2 files are refused), ignores `$PhysicalNames`, accepts NaN coordinates, data size 4
//! and a wrong element total, and its errors name the section but no line or byte offset. It
//! did not panic on truncated input and did not allocate by header counts.
//!
//! ```
//! use femscale_mesh::gmsh::{MshElementKind, parse_msh};
//! let text = "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n\
//!             $PhysicalNames\n1\n2 7 \"plate\"\n$EndPhysicalNames\n\
//!             $Nodes\n3\n1 0 0 0\n2 1 0 0\n3 0 1 0\n$EndNodes\n\
//!             $Elements\n1\n1 2 2 7 1 1 2 3\n$EndElements\n";
//! let msh = parse_msh(text.as_bytes(), "plate.msh").unwrap();
//! assert_eq!(msh.points.len(), 3);
//! assert_eq!(msh.blocks[0].kind, MshElementKind::Triangle);
//! assert_eq!(msh.blocks[0].physical, vec![7]);
//! assert_eq!(msh.physical_name(2, 7), Some("plate"));
//! ```

mod build;
mod convert;
mod kinds;
mod reader;
mod v2;
mod v4;

use std::path::Path;

use femscale_core::{Error, Result};

pub use kinds::MshElementKind;

use build::Builder;
use reader::{Reader, Res, shown};

/// The MSH format revision of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MshVersion {
    /// MSH 2.2.
    V22,
    /// MSH 4.1.
    V41,
}

/// Revision and encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MshFormat {
    /// The revision.
    pub version: MshVersion,
    /// Binary (`true`) or ASCII.
    pub binary: bool,
}

/// A named physical group (`$PhysicalNames`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhysicalName {
    /// Dimension of the group.
    pub dim: u8,
    /// Physical tag.
    pub tag: i32,
    /// The name, without quotes.
    pub name: String,
}

/// A geometric entity (point, curve, surface, volume) and its physical groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Dimension, 0 to 3.
    pub dim: u8,
    /// Entity tag.
    pub tag: i32,
    /// Physical tags, sorted, without repeats.
    pub physical: Vec<i32>,
    /// `[min, max]` corners from 4.1 `$Entities` (both the point itself for points); `None` in
    /// 2.2 files, where entities are known only from the element tags.
    pub bounding_box: Option<[[f64; 3]; 2]>,
}

/// Elements of one kind on one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementBlock {
    /// Dimension of the entity (that of `kind`).
    pub dim: u8,
    /// Element kind.
    pub kind: MshElementKind,
    /// Entity tag (2.2: the elementary tag).
    pub entity: i32,
    /// Physical tags of the entity, sorted; empty outside physical groups.
    pub physical: Vec<i32>,
    /// Gmsh tag of each element.
    pub element_tags: Vec<u64>,
    /// `kind.num_nodes()` indices into [`MshFile::points`] per element, in gmsh's node order
    /// (see [`MshElementKind::femscale_order`]).
    pub nodes: Vec<usize>,
}

impl ElementBlock {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.element_tags.len()
    }

    /// Whether the block has no element.
    pub fn is_empty(&self) -> bool {
        self.element_tags.is_empty()
    }
}

/// The contents of a `.msh` file that a mesh needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MshFile {
    /// Revision and encoding.
    pub format: MshFormat,
    /// Coordinates of the nodes some element uses, in increasing tag order.
    pub points: Vec<[f64; 3]>,
    /// Gmsh tag of each point.
    pub node_tags: Vec<u64>,
    /// Nodes in `$Nodes` that no element uses (dropped).
    pub dropped_nodes: usize,
    /// Element blocks, one per (kind, entity), in the order they first appear.
    pub blocks: Vec<ElementBlock>,
    /// `$PhysicalNames` entries, in file order.
    pub physical_names: Vec<PhysicalName>,
    /// Entities sorted by (dim, tag): all of `$Entities` in 4.1, those with elements in 2.2.
    pub entities: Vec<Entity>,
}

impl MshFile {
    /// The name of physical group `(dim, tag)`, if `$PhysicalNames` gives one.
    pub fn physical_name(&self, dim: u8, tag: i32) -> Option<&str> {
        self.physical_names
            .iter()
            .find(|n| n.dim == dim && n.tag == tag)
            .map(|n| n.name.as_str())
    }

    /// Total number of elements.
    pub fn num_elements(&self) -> usize {
        self.blocks.iter().map(ElementBlock::len).sum()
    }

    /// The highest element dimension (0 when there are no elements).
    pub fn max_dim(&self) -> u8 {
        self.blocks.iter().map(|b| b.dim).max().unwrap_or(0)
    }
}

/// Reads a `.msh` file (the whole file into memory, then [`parse_msh`]). Only regular files
/// (or links to one) are read: a device such as `/dev/zero` or a FIFO never ends.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read or is not a regular file, [`Error::MeshFile`]
/// for its contents.
pub fn read_msh(path: &Path) -> Result<MshFile> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a mesh file is read whole; devices, FIFOs and directories are refused)",
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse(&bytes, path)
}

/// Parses the contents of a `.msh` file; `origin` names it in errors.
///
/// # Errors
/// [`Error::MeshFile`] for anything the reader refuses (see the [module docs](self)).
pub fn parse_msh(bytes: &[u8], origin: &str) -> Result<MshFile> {
    parse(bytes, Path::new(origin))
}

fn parse(bytes: &[u8], path: &Path) -> Res<MshFile> {
    let mut r = Reader::new(bytes, path);
    let format = read_format(&mut r)?;
    let mut b = Builder::default();
    let mut seen_elements = false;
    while let Some((start, token)) = r.try_token() {
        let Some(name) = token.strip_prefix(b"$") else {
            return Err(r.error_at(
                start,
                format!("expected a section ($Name), found `{}`", shown(token)),
            ));
        };
        let name = String::from_utf8_lossy(name).into_owned();
        r.section = format!("${name}");
        match name.as_str() {
            "MeshFormat" => return Err(r.error_at(start, "a second $MeshFormat")),
            "PhysicalNames" => read_physical_names(&mut r, &mut b)?,
            "Entities" if format.version == MshVersion::V41 => {
                if b.entities.is_some() {
                    return Err(r.error_at(start, "a second $Entities"));
                }
                v4::read_entities(&mut r, &mut b)?;
            }
            "Nodes" if b.has_nodes() => {
                return Err(r.error_at(start, "a second $Nodes"));
            }
            "Nodes" => {
                match format.version {
                    MshVersion::V22 => v2::read_nodes(&mut r, &mut b, format.binary)?,
                    MshVersion::V41 => v4::read_nodes(&mut r, &mut b)?,
                }
                b.index_nodes(&r, start)?;
            }
            "Elements" => {
                if seen_elements {
                    return Err(r.error_at(start, "a second $Elements"));
                }
                if !b.has_nodes() {
                    return Err(r.error_at(start, "$Elements before $Nodes"));
                }
                seen_elements = true;
                match format.version {
                    MshVersion::V22 => v2::read_elements(&mut r, &mut b, format.binary)?,
                    MshVersion::V41 => v4::read_elements(&mut r, &mut b)?,
                }
            }
            "PartitionedEntities" => {
                return Err(r.error_at(
                    start,
                    "partitioned meshes are not supported: save the mesh unpartitioned",
                ));
            }
            _ => {
                if name.starts_with("End") {
                    return Err(r.error_at(start, format!("${name} without its section")));
                }
                r.skip_section(&name, start)?;
                continue;
            }
        }
        r.expect_marker(&format!("$End{name}"))?;
    }
    r.section = "file end".into();
    if !seen_elements {
        return Err(r.error("the file has no $Elements section"));
    }
    b.finish(&mut r, format)
}

/// `$MeshFormat`: version, file type, data size and, in binary files, the endianness check.
fn read_format(r: &mut Reader<'_>) -> Res<MshFormat> {
    r.section = "$MeshFormat".into();
    match r.try_token() {
        Some((_, b"$MeshFormat")) => {}
        Some((start, _)) => {
            return Err(r.error_at(start, "missing $MeshFormat: a .msh file starts with it"));
        }
        None => return Err(r.error("empty file: missing $MeshFormat")),
    }
    let (at, version) = r.token("the format version")?;
    let version = match version {
        b"2.2" => MshVersion::V22,
        b"4.1" => MshVersion::V41,
        other => {
            return Err(r.error_at(
                at,
                format!(
                    "MSH version {} is not supported: femscale reads 2.2 and 4.1 (save with \
                     Mesh.MshFileVersion = 4.1)",
                    shown(other)
                ),
            ));
        }
    };
    let binary = match r.int("the file type")? {
        0 => false,
        1 => true,
        t => return Err(r.error(format!("file type {t} is neither 0 (ASCII) nor 1 (binary)"))),
    };
    let at = r.peek_start();
    let size = r.int("the data size")?;
    if size != 8 {
        return Err(r.error_at(
            at,
            format!("data size {size} is not supported: only 8-byte size_t files are read"),
        ));
    }
    if binary {
        r.binary = true;
        r.skip_line_end();
        let at = r.pos;
        let one = r.bin_i32("the endianness check")?;
        if one != 1 {
            let message = if one.swap_bytes() == 1 {
                "the file is big-endian (the check integer reads 1 byte-swapped): only \
                 little-endian binary files are read; save it in ASCII or on a little-endian \
                 machine"
                    .to_string()
            } else {
                format!("the endianness check integer is {one}, expected 1")
            };
            return Err(r.error_at(at, message));
        }
    }
    r.expect_marker("$EndMeshFormat")?;
    Ok(MshFormat { version, binary })
}

/// `$PhysicalNames` (ASCII in binary files too): a count, then `dim tag "name"` lines.
fn read_physical_names(r: &mut Reader<'_>, b: &mut Builder) -> Res<()> {
    let count = r.count("the number of physical names")?;
    let mut named = std::collections::HashMap::new();
    for _ in 0..count {
        let at = r.peek_start();
        let dim = r.int_in("the dimension of a physical name", 0, 3)? as u8;
        let tag = r.int_in("a physical tag", i32::MIN.into(), i32::MAX.into())? as i32;
        r.skip_space();
        let (start, line) = r.rest_of_line();
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        let name = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(|| {
                r.error_at(
                    start,
                    format!("expected a quoted name, found `{}`", shown(text.as_bytes())),
                )
            })?;
        if name.trim().is_empty() {
            return Err(r.error_at(
                start,
                format!("physical group (dimension {dim}, tag {tag}) has an empty name"),
            ));
        }
        if let Some(first) = named.insert((dim, tag), name.to_string()) {
            return Err(r.error_at(
                at,
                format!(
                    "physical group (dimension {dim}, tag {tag}) is named twice: `{}` and `{}`",
                    shown(first.as_bytes()),
                    shown(name.as_bytes())
                ),
            ));
        }
        b.names.push((
            PhysicalName {
                dim,
                tag,
                name: name.to_string(),
            },
            at,
        ));
    }
    Ok(())
}
