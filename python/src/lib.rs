//! `torch_remote._native`: the Rust core of the `remote` device, and the C ABI its C++
//! PrivateUse1 shim calls.

mod core;
mod ffi;
mod inference;
mod kernels;
mod link;
mod lowering;
mod session;

use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::core::CoreError;
use torch_remote_host::protocol::HostStats;

extern "C" {
    /// Registers the allocator, hooks, device guard, fallback and a direct kernel for each
    /// `name.overload` in `names` (csrc/remote.cpp).
    fn tr_register(names: *const *const std::ffi::c_char, count: u64);
    /// The device guard's current remote device.
    fn tr_current_device() -> i32;
    fn tr_set_current_device(device: i32);
    /// The C library's: `f` runs as the process exits, after the interpreter has finished
    /// (its `atexit` callbacks, `weakref.finalize`, module teardown), all of which may still
    /// use remote tensors.
    fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
}

/// Stops the embedded hosts as the process exits.
extern "C" fn shutdown_at_exit() {
    // A panic must not cross into the C library.
    let _ = std::panic::catch_unwind(session::shutdown);
}

pyo3::import_exception!(torch.linalg, LinAlgError);
pyo3::import_exception!(torch, OutOfMemoryError);

fn to_py(e: CoreError) -> PyErr {
    if e.is_out_of_memory() {
        return OutOfMemoryError::new_err(e.to_string());
    }
    match e {
        CoreError::NotImplemented(m) => PyNotImplementedError::new_err(m),
        CoreError::Index(m) => PyIndexError::new_err(m),
        CoreError::Value(m) => PyValueError::new_err(m),
        CoreError::Linalg(m) => LinAlgError::new_err(m),
        CoreError::WrongType(m) => PyTypeError::new_err(m),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Runs `body` on the attached core without holding the GIL.
fn with_core<T: Send>(
    py: Python<'_>,
    body: impl FnOnce(&mut core::Core) -> core::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| {
        let mut guard = session::attached_core()?;
        body(guard.as_mut().expect("attached_core initialises the core"))
    })
    .map_err(to_py)
}

/// Registers the `remote` device with PyTorch's dispatcher; call once after renaming
/// PrivateUse1.
#[pyfunction]
fn register() -> PyResult<()> {
    let supported = core::supported_ops().map_err(to_py)?;
    let names: Vec<std::ffi::CString> = supported
        .into_iter()
        .filter_map(|name| std::ffi::CString::new(name).ok())
        .collect();
    let pointers: Vec<*const std::ffi::c_char> = names.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: the pointers outlive the call; registration only touches PyTorch's
    // registries, once per process.
    unsafe { tr_register(pointers.as_ptr(), pointers.len() as u64) };
    // SAFETY: `shutdown_at_exit` is a plain function of this module, which is never unloaded.
    unsafe { atexit(shutdown_at_exit) };
    Ok(())
}

/// Sets where ops go: for `remote:0`, `remote:1`, ... in `endpoints` a host `(url, token)`,
/// or (url None) an embedded local host started from `host_program`; or nowhere in a dry
/// run. No endpoints: one embedded host.
#[pyfunction]
#[pyo3(signature = (endpoints=Vec::new(), dry_run=false, host_program=None))]
fn configure(
    endpoints: Vec<(Option<String>, Option<String>)>,
    dry_run: bool,
    host_program: Option<String>,
) -> PyResult<()> {
    let endpoints = endpoints
        .into_iter()
        .map(|(url, token)| session::Endpoint { url, token })
        .collect();
    session::configure(session::Config {
        endpoints,
        dry_run,
        host_program,
    })
    .map_err(to_py)?;
    let current = current_device();
    if current >= session::device_count() {
        set_device(0);
    }
    Ok(())
}

#[pyfunction]
fn set_dry_run(on: bool) {
    session::set_dry_run(on);
}

#[pyfunction]
fn is_dry_run() -> bool {
    session::is_dry_run()
}

#[pyfunction]
fn device_count() -> i32 {
    session::device_count()
}

/// This thread's current remote device.
#[pyfunction]
fn current_device() -> i32 {
    // SAFETY: reads a thread-local in the shim.
    unsafe { tr_current_device() }
}

/// Makes `remote:{device}` the one that this thread's ops without a device index go to; the
/// caller has checked the index.
#[pyfunction]
fn set_device(device: i32) {
    // SAFETY: writes a thread-local in the shim.
    unsafe { tr_set_current_device(device) }
}

/// Waits for every op sent so far to `remote:{device}` and raises what failed on its host.
#[pyfunction]
fn synchronize(py: Python<'_>, device: usize) -> PyResult<()> {
    with_core(py, |core| core.synchronize(device))
}

/// Sets `remote:{device}`'s random state: `seed`, and `offset` random ops run since it was set.
#[pyfunction]
#[pyo3(signature = (device, seed, offset=0))]
fn set_rng_state(py: Python<'_>, device: usize, seed: u64, offset: u64) -> PyResult<()> {
    with_core(py, |core| core.set_rng_state(device, seed, offset))
}

#[pyfunction]
fn empty_cache(py: Python<'_>, device: usize) -> PyResult<()> {
    with_core(py, |core| core.empty_cache(device))
}

#[pyfunction]
fn reset_peak_memory(py: Python<'_>, device: usize) -> PyResult<()> {
    with_core(py, |core| core.reset_peak(device))
}

/// `remote:{device}`'s host figures for this session (one round trip).
#[pyfunction]
fn host_stats<'py>(py: Python<'py>, device: usize) -> PyResult<Bound<'py, PyDict>> {
    let stats = with_core(py, |core| core.host_stats(device))?;
    let dict = hardware_dict(py, &stats)?;
    dict.set_item("storages", stats.storages)?;
    dict.set_item("bytes", stats.bytes)?;
    dict.set_item("ops", stats.ops)?;
    dict.set_item("free_memory", stats.free_memory)?;
    dict.set_item("peak_bytes", stats.peak_bytes)?;
    dict.set_item("rng", stats.rng)?;
    Ok(dict)
}

/// What `remote:{device}`'s host computes on: `device`, `device_name`, `total_memory` and
/// `capability`, asked of the host once.
#[pyfunction]
fn hardware<'py>(py: Python<'py>, device: usize) -> PyResult<Bound<'py, PyDict>> {
    let stats = with_core(py, |core| core.hardware(device))?;
    hardware_dict(py, &stats)
}

fn hardware_dict<'py>(py: Python<'py>, stats: &HostStats) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("device", &stats.device)?;
    dict.set_item("device_name", &stats.device_name)?;
    dict.set_item("total_memory", stats.total_memory)?;
    dict.set_item("capability", stats.capability)?;
    Ok(dict)
}

/// Bytes of the storages on `remote:{device}` that PyTorch holds, without asking the host.
#[pyfunction]
fn memory_allocated(py: Python<'_>, device: usize) -> PyResult<u64> {
    with_core(py, |core| core.live_bytes(device))
}

/// The client's counters: ops, batches, round trips and bytes each way.
#[pyfunction]
fn client_stats<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let stats = py
        .detach(|| core::core().map(|g| g.as_ref().expect("initialised").stats.clone()))
        .map_err(to_py)?;
    let dict = PyDict::new(py);
    dict.set_item("ops", stats.ops)?;
    dict.set_item("batches", stats.batches)?;
    dict.set_item("round_trips", stats.round_trips)?;
    dict.set_item("bytes_up", stats.bytes_up)?;
    dict.set_item("bytes_down", stats.bytes_down)?;
    Ok(dict)
}

/// Seconds per shape inference of `name.overload` on `args` (see `inference::arg`): through
/// the guest in wasmtime each time, and from the client's memoised lowerings.
#[pyfunction]
#[pyo3(signature = (name, overload, args, repeat=1000))]
fn time_inference(
    py: Python<'_>,
    name: String,
    overload: String,
    args: Vec<Bound<'_, PyAny>>,
    repeat: u32,
) -> PyResult<(f64, f64)> {
    let args = inference::args(&args)?;
    let repeat = repeat.max(1);
    let cost = py
        .detach(|| {
            let mut guard = core::core()?;
            let core = guard.as_mut().expect("core() initialises the core");
            core.time_inference(&name, &overload, &args, repeat)
        })
        .map_err(to_py)?;
    Ok((cost.guest, cost.memoised))
}

/// The sizes and strides the guest gives each output of `name.overload` on `args` (see
/// `inference::arg`), without running the op: the layouts torch.compile's fake tensors take.
#[pyfunction]
fn infer_layouts(
    py: Python<'_>,
    name: String,
    overload: String,
    args: Vec<Bound<'_, PyAny>>,
) -> PyResult<inference::Layouts> {
    let args = inference::args(&args)?;
    py.detach(|| {
        let mut guard = core::core()?;
        let core = guard.as_mut().expect("core() initialises the core");
        core.layouts(&name, &overload, &args)
    })
    .map_err(to_py)
}

/// Cuts a forked child of an attached process off the parent's host (`os.register_at_fork`).
#[pyfunction]
fn after_fork_in_child() {
    core::after_fork_in_child();
}

/// Whether this is a forked child cut off from its parent's host.
#[pyfunction]
fn is_forked() -> bool {
    core::is_forked()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(register, m)?)?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_function(wrap_pyfunction!(set_dry_run, m)?)?;
    m.add_function(wrap_pyfunction!(is_dry_run, m)?)?;
    m.add_function(wrap_pyfunction!(device_count, m)?)?;
    m.add_function(wrap_pyfunction!(current_device, m)?)?;
    m.add_function(wrap_pyfunction!(set_device, m)?)?;
    m.add_function(wrap_pyfunction!(synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(set_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(reset_peak_memory, m)?)?;
    m.add_function(wrap_pyfunction!(empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(host_stats, m)?)?;
    m.add_function(wrap_pyfunction!(hardware, m)?)?;
    m.add_function(wrap_pyfunction!(memory_allocated, m)?)?;
    m.add_function(wrap_pyfunction!(client_stats, m)?)?;
    m.add_function(wrap_pyfunction!(time_inference, m)?)?;
    m.add_function(wrap_pyfunction!(infer_layouts, m)?)?;
    m.add_function(wrap_pyfunction!(after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(is_forked, m)?)?;
    Ok(())
}
