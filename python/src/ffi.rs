//! The C ABI that the C++ PrivateUse1 shim (`csrc/remote.cpp`) calls: argument building,
//! dispatch through the core, and transfers. Every entry point catches panics, since none
//! may unwind into C++.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use torch_remote_host::guest::{
    op_name, Arg, CpuConvolutions, Determinism, OpSettings, Output, Scalar, ScalarType, TensorMeta,
};
use torch_remote_host::protocol::HostStats;

use crate::core::{self, CoreError, Dispatched};
use crate::session;

/// A tensor as the shim passes it; `sizes` and `strides` point at `ndim` entries.
#[repr(C)]
pub struct TrMeta {
    sizes: *const i64,
    strides: *const i64,
    ndim: u64,
    offset: i64,
    dtype: i32,
    storage: u64,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Keeps `message` for the shim to read until this thread's next failing call.
fn error_ptr(message: &str) -> *const c_char {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|slot| {
        *slot.borrow_mut() = text;
        slot.borrow().as_ptr()
    })
}

fn guarded<T>(fallback: impl FnOnce() -> T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| fallback())
}

/// Runs `body` on the attached core, `doing` what it does: null, or the error (a panic
/// included) for the shim to raise.
fn on_core(doing: &str, body: impl FnOnce(&mut core::Core) -> Result<(), String>) -> *const c_char {
    let run = || -> Result<(), String> {
        let mut guard = session::attached_core().map_err(|e| e.to_string())?;
        body(guard.as_mut().expect("attached_core initialises the core"))
    };
    match guarded(|| Err(format!("the client core panicked {doing}")), run) {
        Ok(()) => std::ptr::null(),
        Err(e) => error_ptr(&e),
    }
}

/// c10::ScalarType codes to WIT dtypes.
pub fn dtype_of(code: i32) -> Option<ScalarType> {
    Some(match code {
        0 => ScalarType::Uint8,
        1 => ScalarType::Int8,
        2 => ScalarType::Int16,
        3 => ScalarType::Int32,
        4 => ScalarType::Int64,
        5 => ScalarType::Float16,
        6 => ScalarType::Float32,
        7 => ScalarType::Float64,
        9 => ScalarType::Complex64,
        10 => ScalarType::Complex128,
        11 => ScalarType::Bool,
        15 => ScalarType::Bfloat16,
        _ => return None,
    })
}

/// The c10::ScalarType codes remote cannot hold, by PyTorch's names (besides the sub-byte
/// `uint1`..`uint7` and `int1`..`int7`).
const UNSUPPORTED_DTYPES: &[(i32, &str)] = &[
    (8, "complex32"),
    (12, "qint8"),
    (13, "quint8"),
    (14, "qint32"),
    (16, "quint4x2"),
    (17, "quint2x4"),
    (18, "bits1x8"),
    (19, "bits2x4"),
    (20, "bits4x2"),
    (21, "bits8"),
    (22, "bits16"),
    (23, "float8_e5m2"),
    (24, "float8_e4m3fn"),
    (25, "float8_e5m2fnuz"),
    (26, "float8_e4m3fnuz"),
    (27, "uint16"),
    (28, "uint32"),
    (29, "uint64"),
    (44, "float8_e8m0fnu"),
    (45, "float4_e2m1fn_x2"),
];

/// Why c10::ScalarType `code` cannot cross: the dtype by PyTorch's name, and those that can.
pub fn unsupported_dtype(code: i32) -> String {
    let name = match code {
        30..=36 => format!("torch.uint{}", code - 29),
        37..=43 => format!("torch.int{}", code - 36),
        _ => UNSUPPORTED_DTYPES
            .iter()
            .find(|&&(c, _)| c == code)
            .map_or_else(
                || format!("dtype code {code}"),
                |(_, n)| format!("torch.{n}"),
            ),
    };
    format!(
        "{name} is not supported on remote (it holds bool, uint8, int8, int16, int32, int64, \
         float16, bfloat16, float32, float64, complex64 and complex128)"
    )
}

fn dtype_code(dtype: ScalarType) -> i32 {
    match dtype {
        ScalarType::Uint8 => 0,
        ScalarType::Int8 => 1,
        ScalarType::Int16 => 2,
        ScalarType::Int32 => 3,
        ScalarType::Int64 => 4,
        ScalarType::Float16 => 5,
        ScalarType::Float32 => 6,
        ScalarType::Float64 => 7,
        ScalarType::Complex64 => 9,
        ScalarType::Complex128 => 10,
        ScalarType::Bool => 11,
        ScalarType::Bfloat16 => 15,
    }
}

/// # Safety
/// `meta` points at a valid `TrMeta` whose arrays hold `ndim` entries.
unsafe fn read_meta(meta: &TrMeta) -> Result<TensorMeta, String> {
    let dtype = dtype_of(meta.dtype).ok_or_else(|| unsupported_dtype(meta.dtype))?;
    let n = meta.ndim as usize;
    // SAFETY: the shim passes the tensor's own size and stride arrays of `ndim` entries.
    let (sizes, strides) = unsafe {
        (
            std::slice::from_raw_parts(meta.sizes, n).to_vec(),
            std::slice::from_raw_parts(meta.strides, n).to_vec(),
        )
    };
    Ok(TensorMeta {
        sizes,
        strides,
        storage_offset: meta.offset,
        dtype,
        storage: meta.storage,
    })
}

/// Arguments being built by the shim.
#[derive(Default)]
pub struct ArgList {
    args: Vec<Arg>,
    /// The list being built; its elements may be missing only in a `Tensor?[]`.
    list: Option<Vec<Option<TensorMeta>>>,
    optional_list: bool,
    error: Option<String>,
    /// The `torch.Generator` the op draws from, when it is not the device's default.
    generator: Option<u64>,
}

impl ArgList {
    fn push(&mut self, arg: Arg) {
        self.args.push(arg);
    }
}

/// # Safety
/// `args` comes from `tr_args_new` and is not yet consumed by `tr_dispatch`.
unsafe fn args<'a>(args: *mut c_void) -> &'a mut ArgList {
    // SAFETY: guaranteed by the caller.
    unsafe { &mut *(args as *mut ArgList) }
}

#[no_mangle]
pub extern "C" fn tr_args_new() -> *mut c_void {
    Box::into_raw(Box::<ArgList>::default()) as *mut c_void
}

/// Frees a list that will not be dispatched (an argument could not be added).
///
/// # Safety
/// `a` comes from `tr_args_new` and `tr_dispatch` has not consumed it.
#[no_mangle]
pub unsafe extern "C" fn tr_args_free(a: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(a as *mut ArgList) });
}

/// # Safety
/// `a` is a live argument list; `meta` is null or a valid `TrMeta`.
#[no_mangle]
pub unsafe extern "C" fn tr_args_tensor(a: *mut c_void, meta: *const TrMeta, optional: i32) {
    // SAFETY: guaranteed by the caller.
    let (list, meta) = unsafe { (args(a), meta.as_ref().map(|m| read_meta(m))) };
    let meta = match meta.transpose() {
        Ok(meta) => meta,
        Err(e) => return list.error = Some(e),
    };
    match (&mut list.list, meta) {
        (Some(items), Some(meta)) => items.push(Some(meta)),
        (Some(items), None) if list.optional_list => items.push(None),
        (Some(_), None) => {
            list.error = Some("lists with missing tensors are not supported on remote".into())
        }
        (None, meta) if optional != 0 => list.push(Arg::OptionalTensor(meta)),
        (None, Some(meta)) => list.push(Arg::Tensor(meta)),
        (None, None) => list.push(Arg::OptionalTensor(None)),
    }
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_list_begin(a: *mut c_void) {
    let list = unsafe { args(a) };
    list.list = Some(Vec::new());
    list.optional_list = false;
}

/// Starts a `Tensor?[]`, whose elements may be missing.
///
/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_optional_list_begin(a: *mut c_void) {
    let list = unsafe { args(a) };
    list.list = Some(Vec::new());
    list.optional_list = true;
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_list_end(a: *mut c_void) {
    let list = unsafe { args(a) };
    let items = list.list.take().unwrap_or_default();
    if list.optional_list {
        list.optional_list = false;
        list.push(Arg::OptionalTensorList(items));
    } else {
        list.push(Arg::TensorList(items.into_iter().flatten().collect()));
    }
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_int(a: *mut c_void, value: i64) {
    unsafe { args(a) }.push(Arg::Integer(value));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_float(a: *mut c_void, value: f64) {
    unsafe { args(a) }.push(Arg::Float(value));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_bool(a: *mut c_void, value: i32) {
    unsafe { args(a) }.push(Arg::Boolean(value != 0));
}

/// # Safety
/// `a` is a live argument list; `values` holds `len` entries.
#[no_mangle]
pub unsafe extern "C" fn tr_args_int_list(a: *mut c_void, values: *const i64, len: u64) {
    let values = if len == 0 {
        Vec::new()
    } else {
        unsafe { std::slice::from_raw_parts(values, len as usize) }.to_vec()
    };
    unsafe { args(a) }.push(Arg::IntList(values));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_scalar_int(a: *mut c_void, value: i64) {
    unsafe { args(a) }.push(Arg::Scalar(Scalar::Integer(value)));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_scalar_float(a: *mut c_void, value: f64) {
    unsafe { args(a) }.push(Arg::Scalar(Scalar::Float(value)));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_scalar_complex(a: *mut c_void, re: f64, im: f64) {
    unsafe { args(a) }.push(Arg::Scalar(Scalar::Complex((re, im))));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_scalar_bool(a: *mut c_void, value: i32) {
    unsafe { args(a) }.push(Arg::Scalar(Scalar::Boolean(value != 0)));
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_dtype(a: *mut c_void, code: i32) {
    let list = unsafe { args(a) };
    match dtype_of(code) {
        Some(dtype) => list.push(Arg::Dtype(dtype)),
        None => list.error = Some(unsupported_dtype(code)),
    }
}

/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_none(a: *mut c_void) {
    unsafe { args(a) }.push(Arg::None);
}

/// A `Generator?` argument naming generator `id`: the guest sees none (random ops draw from
/// whatever state the host has selected), the host is told to select `id` around the op.
///
/// # Safety
/// `a` is a live argument list.
#[no_mangle]
pub unsafe extern "C" fn tr_args_generator(a: *mut c_void, id: u64) {
    let list = unsafe { args(a) };
    list.push(Arg::None);
    list.generator = (id != 0).then_some(id);
}

/// # Safety
/// `a` is a live argument list; `value` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn tr_args_str(a: *mut c_void, value: *const c_char, len: u64) {
    let bytes = unsafe { std::slice::from_raw_parts(value as *const u8, len as usize) };
    unsafe { args(a) }.push(Arg::Str(String::from_utf8_lossy(bytes).into_owned()));
}

/// An op's answer, owned until `tr_result_free`.
pub struct DispatchResult {
    outcome: Result<Dispatched, (i32, CString)>,
}

fn error_kind(e: &CoreError) -> i32 {
    match e {
        CoreError::NotImplemented(_) => 1,
        CoreError::Index(_) => 3,
        CoreError::Value(_) => 4,
        CoreError::Linalg(_) => 5,
        CoreError::WrongType(_) => 6,
        _ => 0,
    }
}

fn run_dispatch(
    list: ArgList,
    device: usize,
    name: &str,
    overload: &str,
    settings: Option<OpSettings>,
) -> Result<Dispatched, CoreError> {
    if let Some(error) = list.error {
        return Err(CoreError::Op(format!(
            "{}: {error}",
            op_name(name, overload)
        )));
    }
    let mut guard = session::attached_core()?;
    let core = guard.as_mut().expect("attached_core initialises the core");
    if let Some(settings) = settings {
        core.set_settings(settings);
    }
    let Some(generator) = list.generator else {
        return core.dispatch(device, name, overload, list.args);
    };
    core.select_generator(device, generator)?;
    let dispatched = core.dispatch(device, name, overload, list.args);
    core.select_generator(device, 0)?;
    dispatched
}

/// Runs `name.overload` on remote device `device`.
///
/// # Safety
/// `a` comes from `tr_args_new` (consumed here); `name` and `overload` are C strings.
#[no_mangle]
pub unsafe extern "C" fn tr_dispatch(
    a: *mut c_void,
    name: *const c_char,
    overload: *const c_char,
    default_dtype: i32,
    flags: i32,
    device: i32,
) -> *mut c_void {
    // SAFETY: guaranteed by the caller.
    let (list, name, overload) = unsafe {
        (
            *Box::from_raw(a as *mut ArgList),
            CStr::from_ptr(name).to_string_lossy().into_owned(),
            CStr::from_ptr(overload).to_string_lossy().into_owned(),
        )
    };
    let outcome = guarded(
        || {
            Err(CoreError::Guest(format!(
                "{}: the client core panicked",
                op_name(&name, &overload)
            )))
        },
        || {
            let device = usize::try_from(device).unwrap_or(usize::MAX);
            let settings = settings_of(default_dtype, flags);
            run_dispatch(list, device, &name, &overload, settings)
        },
    );
    result_handle(outcome)
}

/// The settings the shim passes with each op: `torch.get_default_dtype()` as a c10 code, and
/// the deterministic-algorithm flags (1: on, 2: warn only, 4: fill uninitialised memory) with
/// what the CPU's convolutions choose their kernels by (8: one thread; mkldnn 64: enabled,
/// 16: for bfloat16, 32: for float16).
fn settings_of(default_dtype: i32, flags: i32) -> Option<OpSettings> {
    let on = flags & 1 != 0;
    Some(OpSettings {
        default_float: dtype_of(default_dtype)?,
        determinism: match (on, flags & 2 != 0) {
            (false, _) => Determinism::Off,
            (true, false) => Determinism::Required,
            (true, true) => Determinism::WarnOnly,
        },
        fill_uninitialized_memory: on && flags & 4 != 0,
        convolutions: CpuConvolutions {
            single_threaded: flags & 8 != 0,
            mkldnn_bfloat16: flags & 16 != 0,
            mkldnn_float16: flags & 32 != 0,
            mkldnn: flags & 64 != 0,
        },
    })
}

/// `outcome` as the handle the `tr_result_*` functions read.
fn result_handle(outcome: Result<Dispatched, CoreError>) -> *mut c_void {
    let outcome = outcome.map_err(|e| {
        (
            error_kind(&e),
            CString::new(e.to_string().replace('\0', " ")).unwrap_or_default(),
        )
    });
    Box::into_raw(Box::new(DispatchResult { outcome })) as *mut c_void
}

/// # Safety
/// `r` comes from `tr_dispatch` and is not freed.
unsafe fn result<'a>(r: *const c_void) -> &'a DispatchResult {
    unsafe { &*(r as *const DispatchResult) }
}

fn outputs(r: &DispatchResult) -> &[Output] {
    r.outcome
        .as_ref()
        .map(|d| d.outputs.as_slice())
        .unwrap_or(&[])
}

/// # Safety
/// `r` is a live result; `kind` is writable.
#[no_mangle]
pub unsafe extern "C" fn tr_result_error(r: *const c_void, kind: *mut i32) -> *const c_char {
    match &unsafe { result(r) }.outcome {
        Ok(_) => std::ptr::null(),
        Err((k, message)) => {
            unsafe { *kind = *k };
            message.as_ptr()
        }
    }
}

/// # Safety
/// `r` is a live result.
#[no_mangle]
pub unsafe extern "C" fn tr_result_len(r: *const c_void) -> u64 {
    outputs(unsafe { result(r) }).len() as u64
}

/// # Safety
/// `r` is a live result and `i` is below its length.
#[no_mangle]
pub unsafe extern "C" fn tr_result_kind(r: *const c_void, i: u64) -> i32 {
    match &outputs(unsafe { result(r) })[i as usize] {
        Output::Argument(_) => 0,
        Output::Updated(_) => 1,
        Output::Tensor(_) => 2,
        Output::TensorList(_) => 3,
        Output::None => 4,
    }
}

/// # Safety
/// `r` is a live result and output `i` is an argument or an update.
#[no_mangle]
pub unsafe extern "C" fn tr_result_arg(r: *const c_void, i: u64) -> u32 {
    match &outputs(unsafe { result(r) })[i as usize] {
        Output::Argument(n) | Output::Updated((n, _)) => *n,
        _ => u32::MAX,
    }
}

/// # Safety
/// `r` is a live result and `i` is below its length.
#[no_mangle]
pub unsafe extern "C" fn tr_result_list_len(r: *const c_void, i: u64) -> u64 {
    match &outputs(unsafe { result(r) })[i as usize] {
        Output::TensorList(items) => items.len() as u64,
        _ => 0,
    }
}

/// Fills `meta` for output `i` (element `j` of a list). Returns 1 when the storage is new,
/// with its size in `nbytes`. The arrays stay valid until the result is freed.
///
/// # Safety
/// `r` is a live result, `i`/`j` are in range, `meta` and `nbytes` are writable.
#[no_mangle]
pub unsafe extern "C" fn tr_result_meta(
    r: *const c_void,
    i: u64,
    j: u64,
    meta: *mut TrMeta,
    nbytes: *mut u64,
) -> i32 {
    let r = unsafe { result(r) };
    let tensor = match &outputs(r)[i as usize] {
        Output::Updated((_, m)) | Output::Tensor(m) => m,
        Output::TensorList(items) => &items[j as usize],
        _ => return -1,
    };
    unsafe {
        *meta = TrMeta {
            sizes: tensor.sizes.as_ptr(),
            strides: tensor.strides.as_ptr(),
            ndim: tensor.sizes.len() as u64,
            offset: tensor.storage_offset,
            dtype: dtype_code(tensor.dtype),
            storage: tensor.storage,
        };
    }
    let fresh = r
        .outcome
        .as_ref()
        .ok()
        .and_then(|d| d.storages.get(&tensor.storage));
    match fresh {
        Some(&n) => {
            unsafe { *nbytes = n };
            1
        }
        None => 0,
    }
}

/// How many warnings the op gave.
///
/// # Safety
/// `r` is a live result.
#[no_mangle]
pub unsafe extern "C" fn tr_result_warning_count(r: *const c_void) -> u64 {
    let r = unsafe { result(r) };
    r.outcome.as_ref().map_or(0, |d| d.warnings.len() as u64)
}

/// Warning `i`'s message (`len` bytes of UTF-8, valid until the result is freed); `once` is
/// set to 1 for a `TORCH_WARN_ONCE`.
///
/// # Safety
/// `r` is a live result, `i` is below its warning count, `len` and `once` are writable.
#[no_mangle]
pub unsafe extern "C" fn tr_result_warning(
    r: *const c_void,
    i: u64,
    len: *mut u64,
    once: *mut i32,
) -> *const c_char {
    let r = unsafe { result(r) };
    let Ok(dispatched) = &r.outcome else {
        return std::ptr::null();
    };
    let warning = &dispatched.warnings[i as usize];
    unsafe {
        *len = warning.message.len() as u64;
        *once = i32::from(warning.once);
    }
    warning.message.as_ptr().cast()
}

/// # Safety
/// `r` comes from `tr_dispatch` and is freed once.
#[no_mangle]
pub unsafe extern "C" fn tr_result_free(r: *mut c_void) {
    drop(unsafe { Box::from_raw(r as *mut DispatchResult) });
}

/// A new storage of `nbytes` on remote device `device`; 0 on failure.
#[no_mangle]
pub extern "C" fn tr_storage_alloc(nbytes: u64, device: i32) -> u64 {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    guarded(
        || 0,
        || {
            session::attached_core()
                .and_then(|mut guard| guard.as_mut().expect("attached").alloc(device, nbytes))
                .unwrap_or_else(|e| {
                    error_ptr(&e.to_string());
                    0
                })
        },
    )
}

/// A storage of `new_nbytes` holding the first bytes of storage `id`; 0 on failure.
#[no_mangle]
pub extern "C" fn tr_storage_resize(id: u64, old_nbytes: u64, new_nbytes: u64) -> u64 {
    guarded(
        || 0,
        || {
            session::attached_core()
                .and_then(|mut guard| {
                    guard
                        .as_mut()
                        .expect("attached")
                        .resize_storage(id, old_nbytes, new_nbytes)
                })
                .unwrap_or_else(|e| {
                    error_ptr(&e.to_string());
                    0
                })
        },
    )
}

/// Puts generator `generator` (0: the default one) of remote device `device` at `seed`
/// with `offset` random ops run since.
#[no_mangle]
pub extern "C" fn tr_generator_seed(device: i32, generator: u64, seed: u64, offset: u64) {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    guarded(
        || (),
        || {
            if let Ok(mut guard) = session::attached_core() {
                let core = guard.as_mut().expect("attached");
                let _ = match generator {
                    0 => core.set_rng_state(device, seed, offset),
                    id => core.seed_generator(device, id, seed, offset),
                };
            }
        },
    )
}

/// Generator `generator`'s state on remote device `device` into `seed` and `offset` (left as
/// they are in a dry run, where the client's own stand); null, or the error.
///
/// # Safety
/// `seed` and `offset` are writable.
#[no_mangle]
pub unsafe extern "C" fn tr_generator_state(
    device: i32,
    generator: u64,
    seed: *mut u64,
    offset: *mut u64,
) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("reading a generator's state", |core| {
        let state = core.generator_state(device, generator);
        if let Some((s, o)) = state.map_err(|e| e.to_string())? {
            // SAFETY: guaranteed by the caller.
            unsafe { (*seed, *offset) = (s, o) };
        }
        Ok(())
    })
}

/// Whether `message` (a C string) says a host ran out of memory.
///
/// # Safety
/// `message` is a C string.
#[no_mangle]
pub unsafe extern "C" fn tr_out_of_memory(message: *const c_char) -> bool {
    // SAFETY: guaranteed by the caller.
    core::out_of_memory(&unsafe { CStr::from_ptr(message) }.to_string_lossy())
}

#[no_mangle]
pub extern "C" fn tr_storage_release(id: u64) {
    core::release(id);
}

/// Remote generator `id` of device `device` is freed.
#[no_mangle]
pub extern "C" fn tr_generator_release(device: i32, id: u64) {
    core::release_generator(usize::try_from(device).unwrap_or(usize::MAX), id);
}

#[no_mangle]
pub extern "C" fn tr_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

#[no_mangle]
pub extern "C" fn tr_device_count() -> i32 {
    session::device_count()
}

/// How many remote devices a process may have.
#[no_mangle]
pub extern "C" fn tr_max_devices() -> i32 {
    crate::kernels::MAX_DEVICES as i32
}

/// Waits for every op sent to remote device `device`. Returns null or what failed on its
/// host since the last wait.
#[no_mangle]
pub extern "C" fn tr_synchronize(device: i32) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("while synchronizing", |core| {
        core.synchronize(device).map_err(|e| e.to_string())
    })
}

/// Waits for remote device `device` as `tr_synchronize` does, but leaves what failed on its
/// host to the next wait that raises. Returns null, or why the wait itself failed.
#[no_mangle]
pub extern "C" fn tr_wait(device: i32) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("while waiting", |core| {
        core.wait_quietly(device).map_err(|e| e.to_string())
    })
}

/// Bytes held by this process's storages on remote device `device`, now and at most, as its
/// host counts them. Returns null or an error.
///
/// # Safety
/// `current` and `peak` are writable.
#[no_mangle]
pub unsafe extern "C" fn tr_memory(
    device: i32,
    current: *mut u64,
    peak: *mut u64,
) -> *const c_char {
    // SAFETY: the caller guarantees both are writable.
    unsafe { host_figures(device, [current, peak], |s| [s.bytes, s.peak_bytes]) }
}

/// Writes the free and total bytes of remote device `device`'s host device. Returns null
/// or an error.
///
/// # Safety
/// `free` and `total` are writable.
#[no_mangle]
pub unsafe extern "C" fn tr_memory_info(
    device: i32,
    free: *mut u64,
    total: *mut u64,
) -> *const c_char {
    // SAFETY: the caller guarantees both are writable.
    unsafe { host_figures(device, [free, total], |s| [s.free_memory, s.total_memory]) }
}

/// Writes the two figures `pick` takes from remote device `device`'s host stats into `to`.
///
/// # Safety
/// Both pointers of `to` are writable.
unsafe fn host_figures(
    device: i32,
    to: [*mut u64; 2],
    pick: fn(&HostStats) -> [u64; 2],
) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("reading memory figures", |core| {
        let stats = core.host_stats(device).map_err(|e| e.to_string())?;
        for (to, value) in to.into_iter().zip(pick(&stats)) {
            // SAFETY: the caller guarantees both are writable.
            unsafe { *to = value };
        }
        Ok(())
    })
}

/// Starts counting remote device `device`'s peak bytes again from now. Returns null or an
/// error.
#[no_mangle]
pub extern "C" fn tr_reset_peak(device: i32) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("resetting the peak", |core| {
        core.reset_peak(device).map_err(|e| e.to_string())
    })
}

/// Has remote device `device`'s host free the memory it keeps for reuse. Returns null or an
/// error.
#[no_mangle]
pub extern "C" fn tr_empty_cache(device: i32) -> *const c_char {
    let device = usize::try_from(device).unwrap_or(usize::MAX);
    on_core("emptying the cache", |core| {
        core.empty_cache(device).map_err(|e| e.to_string())
    })
}

/// Copies dense CPU data into the remote tensor `dst`: a result (freed with `tr_result_free`)
/// whose error or warnings (a complex source into a real `dst`) the caller raises.
///
/// # Safety
/// `dst` is valid, `src_sizes` holds `ndim` entries, `data` holds `nbytes` bytes.
#[no_mangle]
pub unsafe extern "C" fn tr_upload(
    dst: *const TrMeta,
    src_dtype: i32,
    src_sizes: *const i64,
    ndim: u64,
    data: *const c_void,
    nbytes: u64,
) -> *mut c_void {
    let run = || -> Result<Dispatched, CoreError> {
        let dst = unsafe { read_meta(&*dst) }.map_err(CoreError::Op)?;
        let dtype =
            dtype_of(src_dtype).ok_or_else(|| CoreError::Op(unsupported_dtype(src_dtype)))?;
        let sizes = unsafe { std::slice::from_raw_parts(src_sizes, ndim as usize) }.to_vec();
        let bytes: &[u8] = if nbytes == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(data as *const u8, nbytes as usize) }
        };
        let mut guard = session::attached_core()?;
        let core = guard.as_mut().expect("attached_core initialises the core");
        core.upload(dst, dtype, sizes, bytes)
    };
    let panicked = || {
        Err(CoreError::Guest(
            "the client core panicked during an upload".into(),
        ))
    };
    result_handle(guarded(panicked, run))
}

/// Copies the remote tensor `src`, densely packed, into `out`. Returns null or an error.
///
/// # Safety
/// `src` is valid and `out` holds `nbytes` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn tr_download(
    src: *const TrMeta,
    out: *mut c_void,
    nbytes: u64,
) -> *const c_char {
    on_core("during a download", |core| {
        let src = unsafe { read_meta(&*src) }?;
        let what = format!("reading a tensor of shape {:?}", src.sizes);
        let out: &mut [u8] = if nbytes == 0 {
            &mut []
        } else {
            // SAFETY: the caller guarantees `nbytes` writable bytes at `out`.
            unsafe { std::slice::from_raw_parts_mut(out as *mut u8, nbytes as usize) }
        };
        core.download(src, &what, out).map_err(|e| e.to_string())
    })
}
