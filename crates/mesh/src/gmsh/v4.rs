//! MSH 4.1 `$Entities`, `$Nodes` and `$Elements`, ASCII and binary: in binary files every
//! value of these sections is binary (`int`: 4 bytes, `size_t` and `double`: 8 bytes).

use super::build::Builder;
use super::reader::{Reader, Res, bounded_capacity, le_u64};
use super::v2::{lookup, non_finite};
use super::{Entity, MshElementKind};

/// An `int`: an ASCII token or 4 binary bytes, in `i32` range either way.
fn int(r: &mut Reader<'_>, what: &str) -> Res<i32> {
    if r.binary {
        r.bin_i32(what)
    } else {
        Ok(r.int_in(what, i32::MIN.into(), i32::MAX.into())? as i32)
    }
}

/// A `size_t`: an ASCII token or 8 binary bytes.
fn size(r: &mut Reader<'_>, what: &str) -> Res<u64> {
    if r.binary {
        r.bin_u64(what)
    } else {
        r.count(what)
    }
}

/// A `double`: an ASCII token or 8 binary bytes; any value.
fn double(r: &mut Reader<'_>, what: &str) -> Res<(usize, f64)> {
    if r.binary {
        let at = r.pos;
        Ok((at, r.bin_f64(what)?))
    } else {
        r.float(what)
    }
}

/// Bytes of `count` values of `width` bytes, or a truncation error.
fn binary_run<'a>(r: &mut Reader<'a>, count: u64, width: usize, what: &str) -> Res<&'a [u8]> {
    let len = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(width));
    match len {
        Some(len) => r.bytes(len, what),
        None => Err(r.error(format!(
            "unexpected end of file: {what} ({count} values of {width} bytes) is longer than \
             the {} bytes left",
            r.remaining()
        ))),
    }
}

/// `$Entities`: physical tags and bounding boxes of points, curves, surfaces and volumes.
pub(crate) fn read_entities(r: &mut Reader<'_>, b: &mut Builder) -> Res<()> {
    if r.binary {
        r.skip_line_end();
    }
    let mut counts = [0u64; 4];
    for (dim, c) in counts.iter_mut().enumerate() {
        *c = size(r, &format!("the number of entities of dimension {dim}"))?;
    }
    let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    let min_bytes = if r.binary { 4 + 24 + 8 } else { 8 };
    let mut entities = Vec::with_capacity(bounded_capacity(total, r.remaining(), min_bytes));
    for (dim, &count) in counts.iter().enumerate() {
        for _ in 0..count {
            let at = r.peek_start_if_ascii();
            let tag = int(r, "an entity tag")?;
            let mut corners = [[0.0; 3]; 2];
            for corner in if dim == 0 { 0..1 } else { 0..2 } {
                for c in &mut corners[corner] {
                    *c = double(r, "a bounding box coordinate")?.1;
                }
            }
            if dim == 0 {
                corners[1] = corners[0];
            }
            let physical = tags(r, "the number of physical tags", "a physical tag")?;
            if dim > 0 {
                skip_tags(r)?;
            }
            let mut physical = physical;
            physical.sort_unstable();
            physical.dedup();
            entities.push((
                Entity {
                    dim: dim as u8,
                    tag,
                    physical,
                    bounding_box: Some(corners),
                },
                at,
            ));
        }
    }
    entities.sort_by_key(|(e, _)| (e.dim, e.tag));
    if let Some(w) = entities
        .windows(2)
        .find(|w| (w[0].0.dim, w[0].0.tag) == (w[1].0.dim, w[1].0.tag))
    {
        let (e, at) = &w[1];
        return Err(r.error_at(
            *at,
            format!(
                "entity of dimension {} with tag {} is listed twice",
                e.dim, e.tag
            ),
        ));
    }
    b.entities = Some(entities.into_iter().map(|(e, _)| e).collect());
    Ok(())
}

/// A `size_t` count and that many `int` tags.
fn tags(r: &mut Reader<'_>, count_what: &str, what: &str) -> Res<Vec<i32>> {
    let count = size(r, count_what)?;
    let mut tags = Vec::with_capacity(bounded_capacity(count, r.remaining(), 2));
    for _ in 0..count {
        tags.push(int(r, what)?);
    }
    Ok(tags)
}

/// The bounding entities of a curve, surface or volume (not needed here).
fn skip_tags(r: &mut Reader<'_>) -> Res<()> {
    let count = size(r, "the number of bounding entities")?;
    if r.binary {
        binary_run(r, count, 4, "the bounding entity tags")?;
    } else {
        for _ in 0..count {
            int(r, "a bounding entity tag")?;
        }
    }
    Ok(())
}

/// `$Nodes`: entity blocks of node tags, then coordinates (plus parametric ones, skipped).
pub(crate) fn read_nodes(r: &mut Reader<'_>, b: &mut Builder) -> Res<()> {
    if r.binary {
        r.skip_line_end();
    }
    let at = r.peek_start_if_ascii();
    let num_blocks = size(r, "the number of node blocks")?;
    let num_nodes = size(r, "the number of nodes")?;
    size(r, "the smallest node tag")?;
    size(r, "the largest node tag")?;
    let min_bytes = if r.binary { 32 } else { 7 };
    let capacity = bounded_capacity(num_nodes, r.remaining(), min_bytes);
    b.node_tags.reserve_exact(capacity);
    b.points.reserve_exact(capacity);
    for _ in 0..num_blocks {
        let block_at = r.peek_start_if_ascii();
        let dim = int(r, "an entity dimension")?;
        int(r, "an entity tag")?;
        let parametric = int(r, "the parametric flag")?;
        let count = size(r, "the number of nodes in a block")?;
        if !(0..=3).contains(&dim) || !(0..=1).contains(&parametric) {
            return Err(r.error_at(
                block_at,
                format!("node block of dimension {dim} with parametric flag {parametric}"),
            ));
        }
        let values = 3 + if parametric == 1 { dim as usize } else { 0 };
        let first = b.node_tags.len();
        if r.binary {
            let tags = binary_run(r, count, 8, "the node tags")?;
            b.node_tags.extend(tags.chunks_exact(8).map(le_u64));
            let start = r.pos;
            let coords = binary_run(r, count, 8 * values, "the node coordinates")?;
            for (i, node) in coords.chunks_exact(8 * values).enumerate() {
                let mut xyz = [0.0; 3];
                for (k, c) in xyz.iter_mut().enumerate() {
                    *c = f64::from_bits(le_u64(&node[8 * k..]));
                    if !c.is_finite() {
                        let at = start + i * 8 * values + 8 * k;
                        return Err(r.error_at(at, non_finite(*c, b.node_tags[first + i])));
                    }
                }
                b.points.push(xyz);
            }
        } else {
            for _ in 0..count {
                let tag = r.count("a node tag")?;
                b.node_tags.push(tag);
            }
            for i in 0..count as usize {
                let mut xyz = [0.0; 3];
                for c in &mut xyz {
                    let (at, value) = r.float("a coordinate")?;
                    if !value.is_finite() {
                        return Err(r.error_at(at, non_finite(value, b.node_tags[first + i])));
                    }
                    *c = value;
                }
                for _ in 3..values {
                    r.float("a parametric coordinate")?;
                }
                b.points.push(xyz);
            }
        }
    }
    if b.node_tags.len() as u64 != num_nodes {
        return Err(r.error_at(
            at,
            format!(
                "the header announces {num_nodes} nodes, the blocks hold {}",
                b.node_tags.len()
            ),
        ));
    }
    Ok(())
}

/// `$Elements`: entity blocks of one element type, each element its tag and node tags.
pub(crate) fn read_elements(r: &mut Reader<'_>, b: &mut Builder) -> Res<()> {
    if r.binary {
        r.skip_line_end();
    }
    let at = r.peek_start_if_ascii();
    let num_blocks = size(r, "the number of element blocks")?;
    let num_elements = size(r, "the number of elements")?;
    size(r, "the smallest element tag")?;
    size(r, "the largest element tag")?;
    let mut read = 0u64;
    for _ in 0..num_blocks {
        let block_at = r.peek_start_if_ascii();
        let dim = int(r, "an entity dimension")?;
        let entity = int(r, "an entity tag")?;
        let type_at = r.peek_start_if_ascii();
        let type_number = int(r, "an element type")?;
        let count = size(r, "the number of elements in a block")?;
        let kind = MshElementKind::from_gmsh(type_number.into())
            .map_err(|message| r.error_at(type_at, message))?;
        if i64::from(dim) != i64::from(kind.dim()) {
            return Err(r.error_at(
                block_at,
                format!("{} elements in a block of dimension {dim}", kind.name()),
            ));
        }
        let Some(physical) = b.entity_physical(kind.dim(), entity) else {
            return Err(r.error_at(
                block_at,
                format!(
                    "element block on entity {entity} of dimension {dim}, which $Entities does \
                     not list"
                ),
            ));
        };
        let physical = physical.to_vec();
        let npe = kind.num_nodes();
        let block = b.block(kind, entity, &physical);
        let (mut tags, mut nodes) = (Vec::new(), Vec::new());
        if r.binary {
            let start = r.pos;
            let width = 8 * (1 + npe);
            let data = binary_run(r, count, width, "the element data")?;
            tags.reserve_exact(data.len() / width);
            nodes.reserve_exact(data.len() / width * npe);
            for (e, element) in data.chunks_exact(width).enumerate() {
                tags.push(le_u64(element));
                for k in 1..=npe {
                    let tag = le_u64(&element[8 * k..]);
                    let Some(node) = b.node(tag) else {
                        let at = start + e * width + 8 * k;
                        let message = format!("node tag {tag} is not defined in $Nodes");
                        return Err(r.error_at(at, message));
                    };
                    nodes.push(node);
                }
            }
        } else {
            let capacity = bounded_capacity(count, r.remaining(), 2 * (1 + npe));
            tags.reserve_exact(capacity);
            nodes.reserve_exact(capacity * npe);
            for _ in 0..count {
                tags.push(r.count("an element tag")?);
                for _ in 0..npe {
                    let at = r.peek_start();
                    let tag = r.int("a node tag")?;
                    nodes.push(lookup(b, r, at, tag)?);
                }
            }
        }
        let block = &mut b.blocks[block];
        if block.element_tags.is_empty() {
            block.element_tags = tags;
            block.nodes = nodes;
        } else {
            block.element_tags.extend_from_slice(&tags);
            block.nodes.extend_from_slice(&nodes);
        }
        read = read.saturating_add(count);
    }
    if read != num_elements {
        return Err(r.error_at(
            at,
            format!("the header announces {num_elements} elements, the blocks hold {read}"),
        ));
    }
    // Errors name elements by tag, so a tag must name one (unlike MSH 2.2, which writes an
    // element once per physical group, 4.1 writes each once).
    let tags = || (b.blocks.iter()).flat_map(|block| block.element_tags.iter().copied());
    if let Some(tag) = super::build::first_duplicate(tags) {
        return Err(r.error_at(
            at,
            format!("element tag {tag} is given to two elements in $Elements"),
        ));
    }
    Ok(())
}
