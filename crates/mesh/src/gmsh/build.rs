//! What the section readers collect, and the last step: node lookup, merging of 2.2 duplicate
//! elements, physical tags per block, checks of `$PhysicalNames`, orphan nodes dropped.

use std::collections::HashMap;

use super::reader::{Reader, Res};
use super::{ElementBlock, Entity, MshElementKind, MshFile, MshFormat, PhysicalName};

/// Tag → index of a node as read. Dense when the tags span at most a few times their count
/// (the span is measured on the tags actually read, never taken from a header).
enum NodeIndex {
    Dense { min: u64, slots: Vec<u32> },
    Sparse(HashMap<u64, u32>),
}

const NO_NODE: u32 = u32::MAX;

/// Everything read so far.
#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) node_tags: Vec<u64>,
    pub(crate) points: Vec<[f64; 3]>,
    index: Option<NodeIndex>,
    /// Blocks with node indices into `points` (as read, before compaction).
    pub(crate) blocks: Vec<ElementBlock>,
    block_of: HashMap<(u8, i32, MshElementKind), usize>,
    /// MSH 2.2: the physical tag of every element of each block (0: none).
    pub(crate) element_physical: Vec<Vec<i32>>,
    /// From `$Entities` (4.1), sorted by (dim, tag) once read.
    pub(crate) entities: Option<Vec<Entity>>,
    /// `$PhysicalNames` with the offset of each entry.
    pub(crate) names: Vec<(PhysicalName, usize)>,
}

/// The first tag `tags()` gives twice, found with one slot per tag when the tags are dense
/// (as gmsh numbers them), else with a hash set.
pub(crate) fn first_duplicate<I: Iterator<Item = u64>>(tags: impl Fn() -> I) -> Option<u64> {
    let (n, min, max) = tags().fold((0u64, u64::MAX, 0), |(n, lo, hi), t| {
        (n + 1, lo.min(t), hi.max(t))
    });
    if n == 0 {
        return None;
    }
    if let Some(span) = dense_span(n, min, max) {
        let mut seen = vec![false; span];
        tags().find(|&t| std::mem::replace(&mut seen[(t - min) as usize], true))
    } else {
        let mut seen = std::collections::HashSet::with_capacity(n as usize);
        tags().find(|&t| !seen.insert(t))
    }
}

/// The slots a table indexed by `tag - min` needs for `n` tags in `[min, max]`, when that is
/// at most about four per tag (gmsh's tags are dense); `None` for sparse tags, which a hash
/// map holds.
fn dense_span(n: u64, min: u64, max: u64) -> Option<usize> {
    let span = max.saturating_sub(min).saturating_add(1);
    (n > 0 && span <= 4 * n + 1024).then_some(span as usize)
}

impl Builder {
    pub(crate) fn has_nodes(&self) -> bool {
        self.index.is_some()
    }

    /// Indexes the nodes read by `$Nodes` by tag (duplicate tags are an error at `section_start`).
    pub(crate) fn index_nodes(&mut self, r: &Reader<'_>, section_start: usize) -> Res<()> {
        let n = self.node_tags.len();
        if n >= NO_NODE as usize {
            return Err(r.error_at(section_start, format!("{n} nodes are too many")));
        }
        let (min, max) = self
            .node_tags
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        let duplicate = |tag: u64| {
            r.error_at(
                section_start,
                format!("node tag {tag} is defined twice in $Nodes"),
            )
        };
        let index = if let Some(span) = dense_span(n as u64, min, max) {
            let mut slots = vec![NO_NODE; span];
            for (i, &tag) in self.node_tags.iter().enumerate() {
                let slot = &mut slots[(tag - min) as usize];
                if *slot != NO_NODE {
                    return Err(duplicate(tag));
                }
                *slot = i as u32;
            }
            NodeIndex::Dense { min, slots }
        } else {
            let mut map = HashMap::with_capacity(n);
            for (i, &tag) in self.node_tags.iter().enumerate() {
                if map.insert(tag, i as u32).is_some() {
                    return Err(duplicate(tag));
                }
            }
            NodeIndex::Sparse(map)
        };
        self.index = Some(index);
        Ok(())
    }

    /// The index of the node with `tag`, or `None` when `$Nodes` does not define it.
    #[inline]
    pub(crate) fn node(&self, tag: u64) -> Option<usize> {
        let i = match self.index.as_ref()? {
            NodeIndex::Dense { min, slots } => {
                *slots.get(usize::try_from(tag.checked_sub(*min)?).ok()?)?
            }
            NodeIndex::Sparse(map) => *map.get(&tag)?,
        };
        (i != NO_NODE).then_some(i as usize)
    }

    /// The block of `(dim, entity, kind)`, created empty on first use.
    pub(crate) fn block(&mut self, kind: MshElementKind, entity: i32, physical: &[i32]) -> usize {
        let key = (kind.dim(), entity, kind);
        if let Some(&b) = self.block_of.get(&key) {
            return b;
        }
        self.blocks.push(ElementBlock {
            dim: kind.dim(),
            kind,
            entity,
            physical: physical.to_vec(),
            element_tags: Vec::new(),
            nodes: Vec::new(),
        });
        self.element_physical.push(Vec::new());
        self.block_of.insert(key, self.blocks.len() - 1);
        self.blocks.len() - 1
    }

    /// The physical tags of an entity in `$Entities`; `None` when it is not listed there,
    /// `Some(&[])` when the file has no `$Entities`.
    pub(crate) fn entity_physical(&self, dim: u8, tag: i32) -> Option<&[i32]> {
        match &self.entities {
            None => Some(&[]),
            Some(entities) => entities
                .binary_search_by_key(&(dim, tag), |e| (e.dim, e.tag))
                .ok()
                .map(|i| entities[i].physical.as_slice()),
        }
    }

    /// The result: 2.2 duplicates merged, names checked, orphan nodes dropped.
    pub(crate) fn finish(mut self, r: &mut Reader<'_>, format: MshFormat) -> Res<MshFile> {
        if format.version == super::MshVersion::V22 {
            self.merge_v22_physicals();
        }
        let entities = self.entities.take().unwrap_or_default();
        for (name, at) in &self.names {
            let known = entities
                .iter()
                .any(|e| e.dim == name.dim && e.physical.contains(&name.tag));
            if !known {
                r.section = "$PhysicalNames".into();
                let lost = format.version == super::MshVersion::V22
                    && entities.iter().all(|e| e.physical.is_empty());
                let hint = if lost {
                    " (no element has a physical tag: MSH 2.2 files saved with Mesh.SaveAll = 1 \
                     lose their physical groups; save as 4.1 or without SaveAll)"
                } else {
                    ""
                };
                return Err(r.error_at(
                    *at,
                    format!(
                        "physical group `{}` (dimension {}, tag {}) has no element or entity \
                         in this file{hint}",
                        name.name, name.dim, name.tag
                    ),
                ));
            }
        }
        // Compaction: used nodes, in tag order.
        let mut used = vec![false; self.points.len()];
        for block in &self.blocks {
            for &n in &block.nodes {
                used[n] = true;
            }
        }
        let total = self.points.len();
        if used.iter().all(|&u| u) && self.node_tags.is_sorted() {
            // Every node used, already in tag order: nothing to move.
            return Ok(MshFile {
                format,
                points: self.points,
                node_tags: self.node_tags,
                dropped_nodes: 0,
                blocks: self.blocks,
                physical_names: self.names.into_iter().map(|(n, _)| n).collect(),
                entities,
            });
        }
        let mut order: Vec<usize> = (0..total).filter(|&i| used[i]).collect();
        if !order.is_sorted_by_key(|&i| self.node_tags[i]) {
            order.sort_unstable_by_key(|&i| self.node_tags[i]);
        }
        let mut new_index = vec![usize::MAX; total];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        for block in &mut self.blocks {
            for n in &mut block.nodes {
                *n = new_index[*n];
            }
        }
        Ok(MshFile {
            format,
            points: order.iter().map(|&i| self.points[i]).collect(),
            node_tags: order.iter().map(|&i| self.node_tags[i]).collect(),
            dropped_nodes: total - order.len(),
            blocks: self.blocks,
            physical_names: self.names.into_iter().map(|(n, _)| n).collect(),
            entities,
        })
    }

    /// MSH 2.2 gives each element one physical tag and writes an element once per physical group
    /// it is in. Each distinct element (by its nodes, kept once) is in the groups it was written
    /// with: a block whose elements are all in the same groups (how gmsh writes an entity's
    /// elements) keeps them as its physical tags; a block whose elements are in different
    /// groups (files that give one tag per element, or one elementary tag to lines of several
    /// groups) is split into one block per set of groups. An entity's physical tags are those
    /// of its blocks.
    fn merge_v22_physicals(&mut self) {
        let mut entities: HashMap<(u8, i32), Vec<i32>> = HashMap::new();
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for (block, tags) in std::mem::take(&mut self.blocks)
            .into_iter()
            .zip(&self.element_physical)
        {
            for part in split_by_groups(block, tags) {
                entities
                    .entry((part.dim, part.entity))
                    .or_default()
                    .extend_from_slice(&part.physical);
                blocks.push(part);
            }
        }
        self.blocks = blocks;
        let mut list: Vec<Entity> = entities
            .into_iter()
            .map(|((dim, tag), mut physical)| {
                physical.sort_unstable();
                physical.dedup();
                Entity {
                    dim,
                    tag,
                    physical,
                    bounding_box: None,
                }
            })
            .collect();
        list.sort_by_key(|e| (e.dim, e.tag));
        self.entities = Some(list);
    }
}

/// The elements of an MSH 2.2 `block` grouped by the physical tags (`tags`, one per element
/// as written; 0 for none) their copies carry: one block per set of groups, in order of first
/// appearance, each element once (the first of its node list). A block whose elements all
/// carry the same one tag (gmsh's files for entities in one group) is returned as it is.
fn split_by_groups(mut block: ElementBlock, tags: &[i32]) -> Vec<ElementBlock> {
    let count = block.element_tags.len();
    let tags = &tags[..count.min(tags.len())];
    if let Some(&t) = tags.first()
        && tags.iter().all(|&x| x == t)
    {
        block.physical = if t == 0 { Vec::new() } else { vec![t] };
        return vec![block];
    }
    let npe = block.kind.num_nodes().max(1);
    // Each distinct element: its slot (in order of first appearance) and first index.
    let mut slot_of: HashMap<&[usize], usize> = HashMap::with_capacity(count);
    let mut first = Vec::with_capacity(count);
    let mut pairs: Vec<(usize, i32)> = Vec::with_capacity(count);
    for (e, nodes) in block.nodes.chunks_exact(npe).enumerate().take(count) {
        let slot = *slot_of.entry(nodes).or_insert_with(|| {
            first.push(e);
            first.len() - 1
        });
        let tag = tags.get(e).copied().unwrap_or(0);
        if tag != 0 {
            pairs.push((slot, tag));
        }
    }
    drop(slot_of);
    pairs.sort_unstable();
    pairs.dedup();
    // The groups of each slot, as a range of `pairs`.
    let mut ranges = vec![0..0; first.len()];
    let mut k = 0;
    while k < pairs.len() {
        let slot = pairs[k].0;
        let end = k + pairs[k..].partition_point(|p| p.0 == slot);
        ranges[slot] = k..end;
        k = end;
    }
    let mut set_of: HashMap<Vec<i32>, usize> = HashMap::new();
    let mut sets: Vec<(Vec<i32>, Vec<usize>)> = Vec::new();
    let mut set = Vec::new();
    for (slot, &e) in first.iter().enumerate() {
        // The slot's groups in a reused buffer: a set is allocated only when first seen.
        set.clear();
        set.extend(pairs[ranges[slot].clone()].iter().map(|p| p.1));
        let index = match set_of.get(&set) {
            Some(&index) => index,
            None => {
                sets.push((set.clone(), Vec::new()));
                set_of.insert(set.clone(), sets.len() - 1);
                sets.len() - 1
            }
        };
        sets[index].1.push(e);
    }
    sets.into_iter()
        .map(|(physical, members)| ElementBlock {
            dim: block.dim,
            kind: block.kind,
            entity: block.entity,
            physical,
            element_tags: members.iter().map(|&e| block.element_tags[e]).collect(),
            nodes: (members.iter())
                .flat_map(|&e| block.nodes[e * npe..(e + 1) * npe].iter().copied())
                .collect(),
        })
        .collect()
}
