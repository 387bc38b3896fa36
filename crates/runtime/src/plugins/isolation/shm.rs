//! The shared memory between the host and a plugin host: one anonymous file (`memfd`) per
//! prepared solver, mapped by both, holding the CSR arrays, `b` and `x`.
//!
//! Layout (all entries 8 bytes, native endianness; both sides are one machine):
//! `row_ptr[n + 1] | col_idx[nnz] | values[nnz] | b[n] | x[n]`. The child checks that the file
//! it is given has exactly the size the layout of `n` and `nnz` implies before mapping it.

use std::fs::File;

use memmap2::MmapMut;

/// Largest `n` or `nnz` the layout accepts: keeps every size computation far from overflow.
const MAX_ENTRIES: u64 = 1 << 40;

/// Where each array lives in the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Rows of the matrix.
    pub n: usize,
    /// Stored entries.
    pub nnz: usize,
}

impl Layout {
    /// The layout for `n` rows and `nnz` entries.
    ///
    /// # Errors
    /// A message when either is beyond [`MAX_ENTRIES`] or does not fit this platform.
    pub fn new(n: u64, nnz: u64) -> Result<Self, String> {
        if n > MAX_ENTRIES || nnz > MAX_ENTRIES {
            return Err(format!(
                "a matrix of {n} rows and {nnz} entries exceeds the limit of {MAX_ENTRIES}"
            ));
        }
        let fit = |v: u64| usize::try_from(v).map_err(|_| format!("{v} does not fit usize"));
        Ok(Self {
            n: fit(n)?,
            nnz: fit(nnz)?,
        })
    }

    /// Total bytes: `(n + 1) + 2 nnz + 2 n` entries of 8 bytes (cannot overflow within
    /// [`MAX_ENTRIES`]).
    pub fn bytes(&self) -> usize {
        8 * ((self.n + 1) + 2 * self.nnz + 2 * self.n)
    }
}

/// The arrays of a mapped region, borrowed together.
pub struct Parts<'a> {
    /// CSR row offsets.
    pub row_ptr: &'a mut [u64],
    /// CSR column indices.
    pub col_idx: &'a mut [u64],
    /// CSR values.
    pub values: &'a mut [f64],
    /// Right-hand side.
    pub b: &'a mut [f64],
    /// Initial guess on the way in, solution on the way out.
    pub x: &'a mut [f64],
}

/// A mapped shared region.
pub struct SharedRegion {
    file: File,
    map: MmapMut,
    layout: Layout,
}

impl std::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegion")
            .field("layout", &self.layout)
            .finish()
    }
}

impl SharedRegion {
    /// Creates an anonymous file of the layout's size (close-on-exec: only the child it is
    /// handed to gets it) and maps it.
    ///
    /// # Errors
    /// The kernel refuses the file or the mapping.
    pub fn create(layout: Layout) -> std::io::Result<Self> {
        let file = anonymous_file()?;
        file.set_len(layout.bytes() as u64)?;
        Self::map(file, layout)
    }

    /// Maps `file`, the region the host created for `layout`.
    ///
    /// # Errors
    /// The file's size is not the layout's, or mapping fails.
    pub fn open(file: File, layout: Layout) -> std::io::Result<Self> {
        let size = file.metadata()?.len();
        if size != layout.bytes() as u64 {
            return Err(std::io::Error::other(format!(
                "the shared memory has {size} bytes, the layout of n = {} and nnz = {} needs {}",
                layout.n,
                layout.nnz,
                layout.bytes()
            )));
        }
        Self::map(file, layout)
    }

    fn map(file: File, layout: Layout) -> std::io::Result<Self> {
        // SAFETY: the file is an anonymous memfd shared only with the plugin host, which
        // writes `x` only while the host waits for its reply; neither side truncates it.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(Self { file, map, layout })
    }

    /// The file (the host passes it to the child).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// All arrays, mutably.
    pub fn parts(&mut self) -> Parts<'_> {
        let Layout { n, nnz } = self.layout;
        let bytes: &mut [u8] = &mut self.map[..];
        let (row_ptr, rest) = bytes.split_at_mut(8 * (n + 1));
        let (col_idx, rest) = rest.split_at_mut(8 * nnz);
        let (values, rest) = rest.split_at_mut(8 * nnz);
        let (b, x) = rest.split_at_mut(8 * n);
        Parts {
            row_ptr: cast(row_ptr),
            col_idx: cast(col_idx),
            values: cast(values),
            b: cast(b),
            x: cast(x),
        }
    }
}

/// Plain 8-byte numbers that any bit pattern is valid for.
trait Word: Copy {}
impl Word for u64 {}
impl Word for f64 {}

/// `bytes` as a slice of 8-byte words. The mapping is page-aligned and every array starts at a
/// multiple of 8 bytes.
fn cast<T: Word>(bytes: &mut [u8]) -> &mut [T] {
    assert_eq!(std::mem::size_of::<T>(), 8);
    assert!(
        bytes.len().is_multiple_of(8)
            && (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>()),
        "shared memory arrays are 8-byte aligned"
    );
    // SAFETY: length and alignment checked above; u64 and f64 accept any bit pattern; the
    // result borrows `bytes` exclusively for its lifetime.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), bytes.len() / 8) }
}

#[cfg(target_os = "linux")]
fn anonymous_file() -> std::io::Result<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: a NUL-terminated name and valid flags; the fd is owned by the returned File.
    let fd = unsafe { libc::memfd_create(c"femscale-plugin-host".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn anonymous_file() -> std::io::Result<File> {
    Err(std::io::Error::other(
        "process isolation needs memfd_create (Linux)",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn both_mappings_see_the_same_bytes() {
        let layout = Layout::new(3, 5).unwrap();
        let mut host = SharedRegion::create(layout).unwrap();
        host.parts().values[4] = 2.5;
        host.parts().row_ptr[3] = 5;
        let mut child = SharedRegion::open(host.file().try_clone().unwrap(), layout).unwrap();
        assert_eq!(child.parts().values[4], 2.5);
        assert_eq!(child.parts().row_ptr[3], 5);
        child.parts().x[2] = -1.0;
        assert_eq!(host.parts().x[2], -1.0);
    }

    #[test]
    fn a_region_of_the_wrong_size_is_refused() {
        let host = SharedRegion::create(Layout::new(3, 5).unwrap()).unwrap();
        let other = Layout::new(4, 5).unwrap();
        let e = SharedRegion::open(host.file().try_clone().unwrap(), other).unwrap_err();
        assert!(e.to_string().contains("needs"), "{e}");
        assert!(Layout::new(u64::MAX, 1).is_err());
    }
}
