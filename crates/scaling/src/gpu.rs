//! GPU utilisation through NVIDIA's management library (NVML), loaded at run time.
//!
//! Nothing links against NVML: [`Nvml::load`] opens `libnvidia-ml.so.1` (the library the NVIDIA
//! driver installs) with `dlopen` and returns `None` when the library, the driver or a GPU is
//! missing, so machines without a GPU are unaffected. Only five entry points are used
//! (`nvmlInit_v2`, `nvmlDeviceGetCount_v2`, `nvmlDeviceGetHandleByIndex_v2`,
//! `nvmlDeviceGetUtilizationRates`, `nvmlDeviceGetMemoryInfo`) plus `nvmlShutdown` on drop; a
//! probe of these few symbols is lighter than a full NVML binding crate.

use std::ffi::{c_uint, c_ulonglong, c_void};

use serde::{Deserialize, Serialize};

/// One GPU's state at a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GpuDevice {
    /// NVML device index.
    pub index: u32,
    /// Percent of time a kernel ran over the driver's last sample period.
    pub utilization_percent: f64,
    /// Device memory in use, MB.
    pub memory_used_mb: f64,
    /// Device memory, MB.
    pub memory_total_mb: f64,
}

/// All GPUs' state at a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GpuSnapshot {
    /// One entry per device that answered.
    pub devices: Vec<GpuDevice>,
}

impl GpuSnapshot {
    /// Mean utilisation over the devices, percent (`None` without devices).
    pub fn mean_utilization_percent(&self) -> Option<f64> {
        (!self.devices.is_empty()).then(|| {
            self.devices
                .iter()
                .map(|d| d.utilization_percent)
                .sum::<f64>()
                / self.devices.len() as f64
        })
    }
}

type NvmlReturn = c_uint;
type Device = *mut c_void;
const NVML_SUCCESS: NvmlReturn = 0;

#[repr(C)]
#[derive(Default)]
struct Utilization {
    gpu: c_uint,
    memory: c_uint,
}

#[repr(C)]
#[derive(Default)]
struct Memory {
    total: c_ulonglong,
    free: c_ulonglong,
    used: c_ulonglong,
}

type InitFn = unsafe extern "C" fn() -> NvmlReturn;
type CountFn = unsafe extern "C" fn(*mut c_uint) -> NvmlReturn;
type HandleFn = unsafe extern "C" fn(c_uint, *mut Device) -> NvmlReturn;
type UtilFn = unsafe extern "C" fn(Device, *mut Utilization) -> NvmlReturn;
type MemFn = unsafe extern "C" fn(Device, *mut Memory) -> NvmlReturn;

/// A loaded and initialised NVML.
pub struct Nvml {
    count: CountFn,
    handle: HandleFn,
    utilization: UtilFn,
    memory: MemFn,
    shutdown: InitFn,
    // Keeps the library mapped while the function pointers above are in use; dropped last.
    _lib: libloading::Library,
}

impl std::fmt::Debug for Nvml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nvml").finish_non_exhaustive()
    }
}

impl Nvml {
    /// Loads and initialises NVML; `None` when the library or a symbol is missing or
    /// initialisation fails (no driver, no GPU).
    pub fn load() -> Option<Self> {
        Self::load_from("libnvidia-ml.so.1")
    }

    /// Like [`Nvml::load`] from the library file `name` (a path or a name `dlopen` searches).
    pub fn load_from(name: &str) -> Option<Self> {
        // SAFETY: loading runs the library's initialisers; NVML's are those of a system library
        // the driver installs, and a missing file is an error, not undefined behaviour.
        let lib = unsafe { libloading::Library::new(name) }.ok()?;
        // SAFETY: the symbols are looked up by their documented names and given NVML's
        // documented C signatures (nvml.h); the copied function pointers are only called while
        // `lib`, stored in the same struct, keeps the library loaded.
        unsafe {
            let init: InitFn = *lib.get::<InitFn>(b"nvmlInit_v2\0").ok()?;
            let count: CountFn = *lib.get::<CountFn>(b"nvmlDeviceGetCount_v2\0").ok()?;
            let handle: HandleFn = *lib
                .get::<HandleFn>(b"nvmlDeviceGetHandleByIndex_v2\0")
                .ok()?;
            let utilization: UtilFn =
                *lib.get::<UtilFn>(b"nvmlDeviceGetUtilizationRates\0").ok()?;
            let memory: MemFn = *lib.get::<MemFn>(b"nvmlDeviceGetMemoryInfo\0").ok()?;
            let shutdown: InitFn = *lib.get::<InitFn>(b"nvmlShutdown\0").ok()?;
            // Initialise before building the struct, whose drop shuts NVML down.
            if init() != NVML_SUCCESS {
                return None;
            }
            Some(Self {
                count,
                handle,
                utilization,
                memory,
                shutdown,
                _lib: lib,
            })
        }
    }

    /// Utilisation and memory of every device; `None` when no device answers.
    pub fn sample(&self) -> Option<GpuSnapshot> {
        let mut count: c_uint = 0;
        // SAFETY: NVML is initialised (see `load_from`); the out-pointers point to live locals
        // of the types nvml.h declares.
        let devices: Vec<GpuDevice> = unsafe {
            if (self.count)(&mut count) != NVML_SUCCESS {
                return None;
            }
            (0..count)
                .filter_map(|index| {
                    let mut device: Device = std::ptr::null_mut();
                    if (self.handle)(index, &mut device) != NVML_SUCCESS {
                        return None;
                    }
                    let mut util = Utilization::default();
                    let mut mem = Memory::default();
                    if (self.utilization)(device, &mut util) != NVML_SUCCESS
                        || (self.memory)(device, &mut mem) != NVML_SUCCESS
                    {
                        return None;
                    }
                    Some(GpuDevice {
                        index,
                        utilization_percent: f64::from(util.gpu),
                        memory_used_mb: mem.used as f64 / crate::usage::MB,
                        memory_total_mb: mem.total as f64 / crate::usage::MB,
                    })
                })
                .collect()
        };
        (!devices.is_empty()).then_some(GpuSnapshot { devices })
    }
}

impl Drop for Nvml {
    fn drop(&mut self) {
        // SAFETY: balances the successful `nvmlInit_v2` of `load_from`; the library is still
        // loaded (`_lib` is dropped after this).
        unsafe {
            (self.shutdown)();
        }
    }
}

// SAFETY: NVML's entry points are thread-safe (nvml.h: "NVML is thread-safe so it is safe to
// make simultaneous NVML calls from multiple threads"); the struct holds only function pointers
// and the library handle.
unsafe impl Send for Nvml {}
// SAFETY: as for `Send`.
unsafe impl Sync for Nvml {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_none_not_a_crash() {
        assert!(Nvml::load_from("libfemscale-no-such-library.so").is_none());
        // On machines without an NVIDIA driver this is None; with one, devices are sane.
        if let Some(snapshot) = Nvml::load().and_then(|n| n.sample()) {
            for d in &snapshot.devices {
                assert!((0.0..=100.0).contains(&d.utilization_percent));
                assert!(d.memory_used_mb <= d.memory_total_mb);
            }
            assert!(snapshot.mean_utilization_percent().is_some());
        }
        let empty = GpuSnapshot { devices: vec![] };
        assert_eq!(empty.mean_utilization_percent(), None);
    }
}
