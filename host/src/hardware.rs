//! What the host computes on, as its driver or OS reports it: name, memory and CUDA
//! capability, read once per process, and the memory free now. NVML is loaded at run time,
//! so a host without an NVIDIA driver still starts.

use std::sync::OnceLock;

use nvml_wrapper::Nvml;
use tch::Device;

/// The compute device's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub name: String,
    pub total_memory: u64,
    pub capability: (u32, u32),
}

/// The description of `device`, the one the server computes on.
pub fn describe(device: Device) -> &'static DeviceInfo {
    static INFO: OnceLock<DeviceInfo> = OnceLock::new();
    INFO.get_or_init(|| match device {
        Device::Cuda(index) => cuda(index).unwrap_or_else(|e| {
            tracing::warn!("NVML cannot describe cuda:{index}: {e}");
            DeviceInfo {
                name: format!("CUDA device {index}"),
                total_memory: 0,
                capability: (0, 0),
            }
        }),
        _ => cpu(),
    })
}

/// Bytes of memory free on `device` now (the machine's available RAM for the CPU), as
/// `cudaMemGetInfo` counts them; 0 where the driver cannot say.
pub fn free_memory(device: Device) -> u64 {
    match device {
        Device::Cuda(index) => nvml()
            .and_then(|nvml| gpu(nvml, index).ok())
            .and_then(|gpu| gpu.memory_info().ok())
            .map_or(0, |memory| memory.free),
        _ => meminfo_bytes("MemAvailable"),
    }
}

fn nvml() -> Option<&'static Nvml> {
    static NVML: OnceLock<Option<Nvml>> = OnceLock::new();
    NVML.get_or_init(|| Nvml::init().ok()).as_ref()
}

fn cuda(index: usize) -> Result<DeviceInfo, nvml_wrapper::error::NvmlError> {
    let nvml = nvml().ok_or(nvml_wrapper::error::NvmlError::Uninitialized)?;
    let gpu = gpu(nvml, index)?;
    let capability = gpu.cuda_compute_capability()?;
    Ok(DeviceInfo {
        name: gpu.name()?,
        total_memory: gpu.memory_info()?.total,
        capability: (capability.major as u32, capability.minor as u32),
    })
}

/// CUDA device `index` in NVML's terms.
fn gpu(
    nvml: &Nvml,
    index: usize,
) -> Result<nvml_wrapper::Device<'_>, nvml_wrapper::error::NvmlError> {
    // CUDA numbers only the visible devices; NVML numbers all of them.
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_default();
    let entry = visible.split(',').map(str::trim).nth(index).unwrap_or("");
    if entry.starts_with("GPU-") || entry.starts_with("MIG-") {
        nvml.device_by_uuid(entry)
    } else {
        nvml.device_by_index(entry.parse().unwrap_or(index as u32))
    }
}

/// The CPU's model name and the machine's RAM, from `/proc` (or generic words elsewhere).
fn cpu() -> DeviceInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = field(&cpuinfo, "model name").map(str::to_string);
    DeviceInfo {
        name: model.unwrap_or_else(|| "CPU".into()),
        total_memory: total_ram(),
        capability: (0, 0),
    }
}

/// The machine's RAM, in bytes (0 where `/proc` cannot say).
pub fn total_ram() -> u64 {
    meminfo_bytes("MemTotal")
}

/// `/proc/meminfo`'s `key`, in bytes (0 where there is none).
fn meminfo_bytes(key: &str) -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: u64 = field(&meminfo, key)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kib * 1024
}

/// The value of the first `key: value` line of a `/proc` file.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_described_from_proc() {
        let info = cpu();
        assert!(!info.name.is_empty());
        assert_eq!(info.capability, (0, 0));
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(info.total_memory > 1 << 20, "{info:?}");
            let free = free_memory(Device::Cpu);
            assert!(free > 0 && free <= info.total_memory, "{free} of {info:?}");
        }
    }

    #[test]
    fn proc_fields_are_read_by_key() {
        let text = "processor\t: 0\nmodel name\t: Some CPU @ 2GHz\nMemTotal:  100 kB\n";
        assert_eq!(field(text, "model name"), Some("Some CPU @ 2GHz"));
        assert_eq!(field(text, "MemTotal"), Some("100 kB"));
        assert_eq!(field(text, "flags"), None);
    }
}
