//! Mutated real `.msh` files (byte flips, truncations, count edits, line duplication) never make
//! the reader panic, and its allocations stay bounded by the input size: a counting global
//! allocator records the peak of live bytes during each parse; the tests of this binary take
//! turns (`SERIAL`) so that no other test allocates while one measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use femscale_mesh::gmsh::parse_msh;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes allocated by `parse_msh(data)` above what was live before, and whether it parsed.
fn measure(data: &[u8]) -> (usize, bool) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let ok = parse_msh(data, "fuzz.msh").is_ok();
    (PEAK.load(Ordering::Relaxed) - before, ok)
}

/// Generous bound on what reading `len` bytes may allocate.
fn bound(len: usize) -> usize {
    40 * len + (1 << 20)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const COUNTS: [&[u8]; 8] = [
    b"18446744073709551615",
    b"9223372036854775807",
    b"4294967295",
    b"2147483648",
    b"1000000000000",
    b"-1",
    b"0",
    b"3",
];

fn mutate(rng: &mut Rng, file: &[u8]) -> (String, Vec<u8>) {
    let mut data = file.to_vec();
    let at = rng.below(data.len());
    match rng.below(6) {
        0 => {
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            (format!("{flips} byte flips from {at}"), data)
        }
        1 => {
            data.truncate(at);
            (format!("truncated at {at}"), data)
        }
        2 => {
            // Replace the number (ASCII) that contains or follows `at`.
            let Some(start) = (at..data.len()).find(|&i| data[i].is_ascii_digit()) else {
                return ("no number".into(), data);
            };
            let mut start = start;
            while start > 0 && data[start - 1].is_ascii_digit() {
                start -= 1;
            }
            let end = (start..data.len())
                .find(|&i| !data[i].is_ascii_digit())
                .unwrap_or(data.len());
            let count = COUNTS[rng.below(COUNTS.len())];
            data.splice(start..end, count.iter().copied());
            (
                format!("number at {start} -> {}", String::from_utf8_lossy(count)),
                data,
            )
        }
        3 => {
            // Binary count edit: 4 or 8 bytes of 0xff or a large little-endian value.
            let width = if rng.below(2) == 0 { 4 } else { 8 };
            let value = [u64::MAX, 1 << 40, 1 << 31, 0x7fff_ffff][rng.below(4)].to_le_bytes();
            let end = (at + width).min(data.len());
            data[at..end].copy_from_slice(&value[..end - at]);
            (format!("{width} bytes at {at} overwritten"), data)
        }
        4 => {
            // Duplicate or delete a line.
            let start = data[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let end = data[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |i| at + i + 1);
            let line = data[start..end].to_vec();
            if rng.below(2) == 0 {
                data.splice(start..start, line);
                (format!("line at {start} duplicated"), data)
            } else {
                data.drain(start..end);
                (format!("line at {start} deleted"), data)
            }
        }
        _ => {
            data[at] = [b'$', b'\n', b' ', b'-', b'9', b'.', b'e', 0][rng.below(8)];
            (format!("structural byte at {at}"), data)
        }
    }
}

#[test]
fn mutated_real_files_never_panic_and_allocate_within_bounds() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gmsh");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "msh"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 25);
    // The originals: those that parse stay within the bound too.
    for (name, data) in &files {
        let (peak, _) = measure(data);
        assert!(peak <= bound(data.len()), "{name}: {peak} bytes");
    }
    let cases: usize = std::env::var("GMSH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut parsed, mut refused) = (0, 0);
    for case in 0..cases {
        let (name, file) = &files[rng.below(files.len())];
        let (what, data) = mutate(&mut rng, file);
        let result = std::panic::catch_unwind(|| measure(&data));
        let Ok((peak, ok)) = result else {
            let dump = std::env::temp_dir().join(format!("gmsh_fuzz_case_{case}.msh"));
            std::fs::write(&dump, &data).unwrap();
            panic!("case {case}: {name} with {what} panicked (input saved to {dump:?})");
        };
        assert!(
            peak <= bound(data.len()),
            "case {case}: {name} with {what}: {peak} bytes for {} input bytes",
            data.len()
        );
        if ok {
            parsed += 1;
        } else {
            refused += 1;
        }
    }
    // Both outcomes occur: mutations are neither all fatal nor all harmless.
    println!("{cases} mutated files: {parsed} parsed, {refused} refused with an error");
    assert!(
        parsed > cases / 50 && refused > cases / 2,
        "{parsed} parsed, {refused} refused"
    );
}

#[test]
fn huge_header_counts_allocate_nothing_they_announce() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases: [&[u8]; 6] = [
        b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 18446744073709551615 1 2\n0 1 0 9223372036854775807\n1\n",
        b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Entities\n9223372036854775807 0 0 0\n1 0 0 0 0\n",
        b"$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n9223372036854775807\n1 0 0 0\n",
        b"$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n9223372036854775807\n1 1 \"a\"\n",
        b"$MeshFormat\n2.2 1 8\n\x01\x00\x00\x00\n$EndMeshFormat\n$Nodes\n4611686018427387903\n\x01\x00\x00\x00",
        b"$MeshFormat\n4.1 1 8\n\x01\x00\x00\x00\n$EndMeshFormat\n$Nodes\n\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x0f",
    ];
    for data in cases {
        let (peak, ok) = measure(data);
        let text = String::from_utf8_lossy(data);
        assert!(!ok, "{text}");
        assert!(peak < 64 * 1024, "{text}: {peak} bytes");
    }
}
