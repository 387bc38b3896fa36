//! MSH 2.2 `$Nodes` and `$Elements`, ASCII and binary.
//!
//! Nodes: `n`, then `tag x y z` per node (binary: `int` tag and three `double`s). Elements: `n`,
//! then `tag type ntags tags... nodes...` per element (binary: blocks headed by `int` type,
//! count and number of tags, then `int`s per element). The first tag is the physical group, the
//! second the elementary entity.

use super::MshElementKind;
use super::build::Builder;
use super::reader::{Reader, Res, bounded_capacity};

/// Smallest ASCII node line: `1 0 0 0\n`.
const MIN_ASCII_NODE: usize = 8;
/// Binary node: `int` tag and three `double`s.
const BINARY_NODE: usize = 4 + 3 * 8;

pub(crate) fn read_nodes(r: &mut Reader<'_>, b: &mut Builder, binary: bool) -> Res<()> {
    let count = r.count("the number of nodes")?;
    let per_node = if binary { BINARY_NODE } else { MIN_ASCII_NODE };
    let capacity = bounded_capacity(count, r.remaining(), per_node);
    b.node_tags.reserve_exact(capacity);
    b.points.reserve_exact(capacity);
    if binary {
        r.skip_line_end();
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(BINARY_NODE));
        let start = r.pos;
        let Some(data) = len.and_then(|len| r.bytes(len, "the node data").ok()) else {
            return Err(r.error(format!(
                "unexpected end of file: {count} nodes need {count} x {BINARY_NODE} bytes, {} \
                 are left",
                r.remaining()
            )));
        };
        for (i, node) in data.chunks_exact(BINARY_NODE).enumerate() {
            let at = start + i * BINARY_NODE;
            let tag = i32::from_le_bytes([node[0], node[1], node[2], node[3]]);
            let tag = node_tag(r, at, tag.into())?;
            let mut xyz = [0.0; 3];
            for (k, c) in xyz.iter_mut().enumerate() {
                let o = 4 + 8 * k;
                *c = f64::from_le_bytes(node[o..o + 8].try_into().unwrap_or_default());
                if !c.is_finite() {
                    return Err(r.error_at(at + o, non_finite(*c, tag)));
                }
            }
            b.node_tags.push(tag);
            b.points.push(xyz);
        }
    } else {
        for _ in 0..count {
            let at = r.peek_start();
            let tag = r.int("a node tag")?;
            let tag = node_tag(r, at, tag)?;
            let mut xyz = [0.0; 3];
            for c in &mut xyz {
                let (at, value) = r.float("a coordinate")?;
                if !value.is_finite() {
                    return Err(r.error_at(at, non_finite(value, tag)));
                }
                *c = value;
            }
            b.node_tags.push(tag);
            b.points.push(xyz);
        }
    }
    Ok(())
}

pub(crate) fn non_finite(value: f64, tag: u64) -> String {
    format!("node {tag} has a non-finite coordinate ({value})")
}

fn node_tag(r: &Reader<'_>, at: usize, tag: i64) -> Res<u64> {
    u64::try_from(tag).map_err(|_| r.error_at(at, format!("node tag {tag} is negative")))
}

/// The gmsh type at `at`, as a kind.
fn kind(r: &Reader<'_>, at: usize, type_number: i64) -> Res<MshElementKind> {
    MshElementKind::from_gmsh(type_number).map_err(|message| r.error_at(at, message))
}

/// Looks up node `tag` (read at `at`) for an element.
pub(crate) fn lookup(b: &Builder, r: &Reader<'_>, at: usize, tag: i64) -> Res<usize> {
    u64::try_from(tag)
        .ok()
        .and_then(|t| b.node(t))
        .ok_or_else(|| r.error_at(at, format!("node tag {tag} is not defined in $Nodes")))
}

pub(crate) fn read_elements(r: &mut Reader<'_>, b: &mut Builder, binary: bool) -> Res<()> {
    let count = r.count("the number of elements")?;
    if binary {
        r.skip_line_end();
        return read_binary_elements(r, b, count);
    }
    let mut tags = Vec::new();
    for _ in 0..count {
        let element = r.count("an element tag")?;
        let at = r.peek_start();
        let type_number = r.int("an element type")?;
        let kind = kind(r, at, type_number)?;
        let num_tags = r.int_in("the number of tags", 0, 64)?;
        tags.clear();
        for _ in 0..num_tags {
            tags.push(r.int_in("an element tag value", i32::MIN.into(), i32::MAX.into())? as i32);
        }
        let block = element_block(b, kind, &tags);
        for _ in 0..kind.num_nodes() {
            let at = r.peek_start();
            let tag = r.int("a node tag")?;
            let node = lookup(b, r, at, tag)?;
            b.blocks[block].nodes.push(node);
        }
        b.blocks[block].element_tags.push(element);
    }
    Ok(())
}

/// The block of an element with `tags` (physical, elementary, ...), its physical tag recorded.
fn element_block(b: &mut Builder, kind: MshElementKind, tags: &[i32]) -> usize {
    let physical = tags.first().copied().unwrap_or(0);
    let entity = tags.get(1).copied().unwrap_or(0);
    let block = b.block(kind, entity, &[]);
    b.element_physical[block].push(physical);
    block
}

fn read_binary_elements(r: &mut Reader<'_>, b: &mut Builder, count: u64) -> Res<()> {
    let mut read = 0u64;
    let mut tags = Vec::new();
    while read < count {
        let at = r.pos;
        let type_number = r.bin_i32("an element type")?;
        let kind = kind(r, at, type_number.into())?;
        let at = r.pos;
        let in_block = r.bin_i32("the number of elements in a block")?;
        let num_tags = r.bin_i32("the number of tags")?;
        let in_block = u64::try_from(in_block)
            .ok()
            .filter(|&n| n <= count - read)
            .ok_or_else(|| {
                r.error_at(
                    at,
                    format!(
                        "a block of {in_block} elements does not fit the {count} elements the \
                         section announces ({read} read)"
                    ),
                )
            })?;
        let num_tags = usize::try_from(num_tags)
            .ok()
            .filter(|&n| n <= 64)
            .ok_or_else(|| r.error_at(at + 4, format!("{num_tags} tags per element")))?;
        let ints = 1 + num_tags + kind.num_nodes();
        let reserve = bounded_capacity(in_block, r.remaining(), ints * 4);
        for e in 0..in_block {
            let at = r.pos;
            let element = r.bin_i32("an element tag")?;
            let element = u64::try_from(element)
                .map_err(|_| r.error_at(at, format!("element tag {element} is negative")))?;
            tags.clear();
            for _ in 0..num_tags {
                tags.push(r.bin_i32("an element tag value")?);
            }
            let block = element_block(b, kind, &tags);
            if e == 0 {
                b.blocks[block].element_tags.reserve(reserve);
                b.blocks[block].nodes.reserve(reserve * kind.num_nodes());
            }
            for _ in 0..kind.num_nodes() {
                let at = r.pos;
                let tag = r.bin_i32("a node tag")?;
                let node = lookup(b, r, at, tag.into())?;
                b.blocks[block].nodes.push(node);
            }
            b.blocks[block].element_tags.push(element);
        }
        read += in_block;
    }
    Ok(())
}
