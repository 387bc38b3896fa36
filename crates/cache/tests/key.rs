//! Key stability and sensitivity.

use femscale_cache::{FORMAT_VERSION, KeyBuilder};

fn reference() -> KeyBuilder {
    KeyBuilder::new("system")
        .with_format_version(1)
        .str("mesh", "unit_square")
        .u64("n", 3)
        .f64s("k", &[1.0, 0.5])
        .f64("tol", 1e-8)
        .field("raw", [0u8, 1])
}

#[test]
fn key_is_stable() {
    // Independently computed with Python's hashlib over the documented byte stream.
    let key = reference().finish();
    assert_eq!(key.kind, "system");
    assert_eq!(
        key.digest,
        "192dcbcbd1dca279e7bfbf84a4287c47fab8422d295b3282553de9d58d7236df"
    );
    assert_eq!(
        key.to_string(),
        "system_192dcbcbd1dca279e7bfbf84a4287c47fab8422d295b3282553de9d58d7236df"
    );
    assert_eq!(reference().finish(), key);
    assert_eq!(FORMAT_VERSION, 1);
}

#[test]
fn key_is_sensitive_to_every_input() {
    let base = reference().finish();
    let variants = [
        KeyBuilder::new("solution")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(2)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_squarE")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 4)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, f64::from_bits(0.5f64.to_bits() ^ 1)])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", f64::from_bits(1e-8f64.to_bits() ^ (1 << 63)))
            .field("raw", [0u8, 1]),
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 2]),
        // Field name matters.
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("grid", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8)
            .field("raw", [0u8, 1]),
        // A missing field matters.
        KeyBuilder::new("system")
            .with_format_version(1)
            .str("mesh", "unit_square")
            .u64("n", 3)
            .f64s("k", &[1.0, 0.5])
            .f64("tol", 1e-8),
    ];
    let mut seen = vec![base.digest.clone()];
    for v in variants {
        let d = v.finish().digest;
        assert!(!seen.contains(&d), "collision for a changed input");
        seen.push(d);
    }
}

#[test]
fn every_f64_bit_matters() {
    let values = [1.0, -2.5, 3.25];
    let base = KeyBuilder::new("k").f64s("v", &values).finish();
    for i in 0..values.len() {
        for bit in 0..64 {
            let mut changed = values;
            changed[i] = f64::from_bits(changed[i].to_bits() ^ (1 << bit));
            assert_ne!(KeyBuilder::new("k").f64s("v", &changed).finish(), base);
        }
    }
    assert_ne!(
        KeyBuilder::new("k").f64("x", 0.0).finish(),
        KeyBuilder::new("k").f64("x", -0.0).finish()
    );
}

#[test]
fn fields_are_separated() {
    let a = KeyBuilder::new("k").str("s", "ab").str("s", "c").finish();
    let b = KeyBuilder::new("k").str("s", "a").str("s", "bc").finish();
    assert_ne!(a, b);
    // Name/value boundary.
    let c = KeyBuilder::new("k").str("ab", "c").finish();
    let d = KeyBuilder::new("k").str("a", "bc").finish();
    assert_ne!(c, d);
    // Slice boundaries.
    let e = KeyBuilder::new("k")
        .f64s("v", &[1.0, 2.0])
        .f64s("v", &[3.0])
        .finish();
    let f = KeyBuilder::new("k")
        .f64s("v", &[1.0])
        .f64s("v", &[2.0, 3.0])
        .finish();
    assert_ne!(e, f);
    // Same bytes through different helpers.
    let g = KeyBuilder::new("k").str("x", "abcdefgh").finish();
    let h = KeyBuilder::new("k").field("x", b"abcdefgh").finish();
    assert_ne!(g, h);
    let i = KeyBuilder::new("k").u64("x", 7).finish();
    let j = KeyBuilder::new("k").i64("x", 7).finish();
    assert_ne!(i, j);
    assert_ne!(
        KeyBuilder::new("k").usizes("x", &[1, 2]).finish(),
        KeyBuilder::new("k").usizes("x", &[2, 1]).finish()
    );
    assert_ne!(
        KeyBuilder::new("k").bool("x", true).finish(),
        KeyBuilder::new("k").bool("x", false).finish()
    );
    // Order of fields matters.
    assert_ne!(
        KeyBuilder::new("k").u64("a", 1).u64("b", 2).finish(),
        KeyBuilder::new("k").u64("b", 2).u64("a", 1).finish()
    );
}
