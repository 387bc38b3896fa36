//! The process-wide compile cache: parsed and compiled expressions by text, parameters and
//! backend.
//!
//! A sweep or a repeated solve parses the same config texts again and again; with the cache each
//! distinct (text, parameters, backend) is parsed and compiled once and later parses return a
//! clone of the same [`Expression`] (an `Arc`, so the JIT code is shared too). The cache holds at
//! most [`CAPACITY`] expressions and forgets the oldest first; a forgotten expression stays
//! valid for as long as anyone holds it.
//!
//! The lock is held only to look up and to insert, never while compiling, so threads parsing
//! different expressions compile in parallel (two threads parsing the same new text may both
//! compile it; one result is kept).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::{ExprError, ExprOptions, Expression, stats};

/// Most expressions the cache holds.
pub const CAPACITY: usize = 1024;

/// What identifies a compiled expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    text: String,
    /// Parameters sorted by name, values by bits (so `-0.0` and `0.0` differ, as they may in
    /// the result).
    params: Vec<(String, u64)>,
    options: ExprOptions,
}

impl Key {
    fn new(text: &str, params: &[(&str, f64)], options: ExprOptions) -> Key {
        let mut params: Vec<(String, u64)> = params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_bits()))
            .collect();
        params.sort_unstable();
        Key {
            text: text.to_owned(),
            params,
            options,
        }
    }
}

struct Cache {
    map: HashMap<Key, Expression>,
    /// Keys in insertion order, oldest first.
    order: VecDeque<Key>,
    capacity: usize,
}

impl Cache {
    fn new(capacity: usize) -> Cache {
        Cache {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Inserts `e` under `key` unless the key is present, evicting the oldest entries beyond
    /// the capacity; returns the cached expression.
    fn insert(&mut self, key: Key, e: Expression) -> Expression {
        if let Some(existing) = self.map.get(&key) {
            return existing.clone();
        }
        while self.map.len() >= self.capacity.max(1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&old);
            stats::cache_eviction();
        }
        self.order.push_back(key.clone());
        self.map.insert(key, e.clone());
        e
    }
}

fn cache() -> MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(|| Mutex::new(Cache::new(CAPACITY)))
        .lock()
        // The cache holds plain data and is consistent after every statement: a panic while
        // it was locked cannot have left it half-updated.
        .unwrap_or_else(PoisonError::into_inner)
}

/// The cached expression for `(text, params, options)`, or the result of `make` (cached when
/// it is `Ok`).
pub(crate) fn get_or_compile(
    text: &str,
    params: &[(&str, f64)],
    options: ExprOptions,
    make: impl FnOnce() -> Result<Expression, ExprError>,
) -> Result<Expression, ExprError> {
    let key = Key::new(text, params, options);
    if let Some(e) = cache().map.get(&key) {
        stats::cache_hit();
        return Ok(e.clone());
    }
    stats::cache_miss();
    let e = make()?;
    // If another thread compiled the same key meanwhile, its copy is kept and shared.
    Ok(cache().insert(key, e))
}

/// The number of cached expressions.
pub(crate) fn len() -> usize {
    cache().map.len()
}

/// Empties the compile cache. Expressions already handed out stay valid; later parses compile
/// again.
pub fn clear_cache() {
    let mut c = cache();
    c.map.clear();
    c.order.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_part_of_the_key_in_any_order() {
        let a = Key::new("a*x", &[("a", 1.0), ("b", 2.0)], ExprOptions::default());
        let b = Key::new("a*x", &[("b", 2.0), ("a", 1.0)], ExprOptions::default());
        let c = Key::new("a*x", &[("a", 1.5), ("b", 2.0)], ExprOptions::default());
        let d = Key::new(
            "a*x",
            &[("a", 1.0), ("b", 2.0)],
            ExprOptions::with_jit(true),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn evicts_oldest_beyond_capacity() {
        let opts = ExprOptions::default();
        let parse = |i: usize| {
            let text = format!("x + {i}");
            let e = Expression::parse_with(&text, &[], opts).unwrap_or_else(|e| panic!("{e}"));
            (Key::new(&text, &[], opts), e)
        };
        let mut c = Cache::new(3);
        let before = stats::stats();
        let entries: Vec<_> = (0..5).map(parse).collect();
        for (k, e) in &entries {
            let cached = c.insert(k.clone(), e.clone());
            assert!(cached.shares_compiled_code(e));
        }
        assert!(stats::stats().since(&before).cache_evictions >= 2);
        assert_eq!(c.map.len(), 3);
        assert!(!c.map.contains_key(&entries[0].0) && !c.map.contains_key(&entries[1].0));
        assert!(c.map.contains_key(&entries[4].0));
        // A second insert under a present key keeps the first copy.
        let (k, fresh) = parse(4);
        let kept = c.insert(
            k,
            Expression::from_ast(fresh.ast().clone(), "x + 4").unwrap_or(fresh),
        );
        assert!(kept.shares_compiled_code(&entries[4].1));
        // Evicted expressions stay valid.
        assert_eq!(entries[0].1.eval_xyz(1.0, 0.0, 0.0), 1.0);
    }
}
