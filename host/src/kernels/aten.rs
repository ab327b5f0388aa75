//! libtorch backwards that tch does not bind (it skips their `bool[N]` output masks), and the
//! forward results their backwards read that tch does not return (`log_sigmoid`'s buffer,
//! `nll_loss`'s total weight), called through `host/csrc/backward.cpp`: the very kernels
//! PyTorch's autograd runs for these ops.

use std::ffi::{c_char, c_int, CStr};
use std::ptr;

use tch::{TchError, Tensor};
use torch_sys::C_tensor;

use crate::guest::{ConvParams, GridSampleParams};

extern "C" {
    fn trh_convolution_backward(
        grad: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        bias_len: i64,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        output_padding: *const i64,
        dims: usize,
        transposed: bool,
        groups: i64,
        mask: *const bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_native_batch_norm_backward(
        grad: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        running_mean: *const C_tensor,
        running_var: *const C_tensor,
        save_mean: *const C_tensor,
        save_invstd: *const C_tensor,
        training: bool,
        eps: f64,
        mask: *const bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_native_layer_norm_backward(
        grad: *const C_tensor,
        input: *const C_tensor,
        normalized_shape: *const i64,
        dims: usize,
        mean: *const C_tensor,
        rstd: *const C_tensor,
        weight: *const C_tensor,
        bias: *const C_tensor,
        mask: *const bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_native_group_norm_backward(
        grad: *const C_tensor,
        input: *const C_tensor,
        mean: *const C_tensor,
        rstd: *const C_tensor,
        weight: *const C_tensor,
        n: i64,
        c: i64,
        hxw: i64,
        groups: i64,
        mask: *const bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_grid_sampler_backward(
        grad: *const C_tensor,
        input: *const C_tensor,
        grid: *const C_tensor,
        interpolation: i64,
        padding: i64,
        align_corners: bool,
        volumetric: bool,
        mask: *const bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_log_sigmoid_buffer(
        input: *const C_tensor,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_nll_loss_forward(
        input: *const C_tensor,
        target: *const C_tensor,
        weight: *const C_tensor,
        reduction: i64,
        ignore_index: i64,
        spatial: bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
}

/// Room for libtorch's message; longer ones are cut.
const ERROR_CAPACITY: usize = 1024;

/// Runs `call` with room for `N` results and an error buffer, and takes ownership of the
/// tensors it hands back (the other shims' functions use it too).
pub(super) fn results<const N: usize>(
    call: impl FnOnce(*mut *mut C_tensor, *mut c_char, usize) -> c_int,
) -> Result<Vec<Option<Tensor>>, TchError> {
    let mut out: [*mut C_tensor; N] = [ptr::null_mut(); N];
    let mut error = [0 as c_char; ERROR_CAPACITY];
    if call(out.as_mut_ptr(), error.as_mut_ptr(), ERROR_CAPACITY) != 0 {
        // SAFETY: the shim NUL-terminates what it writes into `error`.
        let message = unsafe { CStr::from_ptr(error.as_ptr()) };
        return Err(TchError::Torch(message.to_string_lossy().into_owned()));
    }
    Ok(out
        .into_iter()
        // SAFETY: each non-null pointer is a new `at::Tensor` that nothing else owns.
        .map(|t| (!t.is_null()).then(|| unsafe { Tensor::from_ptr(t) }))
        .collect())
}

fn optional(t: Option<&Tensor>) -> *const C_tensor {
    t.map_or(ptr::null(), Tensor::as_ptr)
}

/// `convolution_backward`: the gradients of input, weight and a bias of `bias_len`
/// channels, those `mask` asks for.
pub fn convolution_backward(
    grad: &Tensor,
    x: &Tensor,
    weight: &Tensor,
    bias_len: Option<i64>,
    p: &ConvParams,
    mask: [bool; 3],
) -> Result<Vec<Option<Tensor>>, TchError> {
    let dims = p.stride.len();
    let lists = [&p.padding, &p.dilation, &p.output_padding];
    if lists.iter().any(|l| l.len() != dims) {
        return Err(TchError::Torch(format!(
            "convolution_backward: stride, padding, dilation and output_padding must have one \
             length, got {:?}, {:?}, {:?} and {:?}",
            p.stride, p.padding, p.dilation, p.output_padding
        )));
    }
    results::<3>(|out, error, capacity| {
        // SAFETY: every pointer is valid for the call; the lists hold `dims` values each.
        unsafe {
            trh_convolution_backward(
                grad.as_ptr(),
                x.as_ptr(),
                weight.as_ptr(),
                bias_len.unwrap_or(-1),
                p.stride.as_ptr(),
                p.padding.as_ptr(),
                p.dilation.as_ptr(),
                p.output_padding.as_ptr(),
                dims,
                p.transposed,
                p.groups,
                mask.as_ptr(),
                out,
                error,
                capacity,
            )
        }
    })
}

/// The statistics a batch norm's backward takes: the running ones, and those its forward
/// saved (mean and inverse standard deviation).
pub struct BatchNormStats<'a> {
    pub running_mean: Option<&'a Tensor>,
    pub running_var: Option<&'a Tensor>,
    pub save_mean: Option<&'a Tensor>,
    pub save_invstd: Option<&'a Tensor>,
}

/// `native_batch_norm_backward`: the gradients of input, weight and bias, those `mask`
/// asks for.
pub fn native_batch_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    stats: &BatchNormStats<'_>,
    training: bool,
    eps: f64,
    mask: [bool; 3],
) -> Result<Vec<Option<Tensor>>, TchError> {
    results::<3>(|out, error, capacity| {
        // SAFETY: every pointer is valid for the call or null for an absent tensor.
        unsafe {
            trh_native_batch_norm_backward(
                grad.as_ptr(),
                x.as_ptr(),
                optional(weight),
                optional(stats.running_mean),
                optional(stats.running_var),
                optional(stats.save_mean),
                optional(stats.save_invstd),
                training,
                eps,
                mask.as_ptr(),
                out,
                error,
                capacity,
            )
        }
    })
}

/// `grid_sampler_2d_backward` or `_3d_`: the gradients of input and grid, those `mask` asks
/// for.
pub fn grid_sampler_backward(
    grad: &Tensor,
    x: &Tensor,
    grid: &Tensor,
    p: &GridSampleParams,
    mask: [bool; 2],
) -> Result<Vec<Option<Tensor>>, TchError> {
    results::<2>(|out, error, capacity| {
        // SAFETY: every pointer is valid for the call.
        unsafe {
            trh_grid_sampler_backward(
                grad.as_ptr(),
                x.as_ptr(),
                grid.as_ptr(),
                p.interpolation,
                p.padding,
                p.align_corners,
                p.volumetric,
                mask.as_ptr(),
                out,
                error,
                capacity,
            )
        }
    })
}

/// What a layer or group norm's backward takes from its forward: the input, its saved
/// `mean` and `rstd`, and the affine weight.
pub struct Normalized {
    pub x: Tensor,
    pub mean: Tensor,
    pub rstd: Tensor,
    pub weight: Option<Tensor>,
}

/// `native_layer_norm_backward`: the gradients of input, weight and bias, those `mask` asks
/// for.
pub fn native_layer_norm_backward(
    grad: &Tensor,
    forward: &Normalized,
    normalized_shape: &[i64],
    bias: Option<&Tensor>,
    mask: [bool; 3],
) -> Result<Vec<Option<Tensor>>, TchError> {
    results::<3>(|out, error, capacity| {
        // SAFETY: every pointer is valid for the call or null for an absent tensor; the shape
        // holds `normalized_shape.len()` values.
        unsafe {
            trh_native_layer_norm_backward(
                grad.as_ptr(),
                forward.x.as_ptr(),
                normalized_shape.as_ptr(),
                normalized_shape.len(),
                forward.mean.as_ptr(),
                forward.rstd.as_ptr(),
                optional(forward.weight.as_ref()),
                optional(bias),
                mask.as_ptr(),
                out,
                error,
                capacity,
            )
        }
    })
}

/// `native_group_norm_backward` of an `[n, c, hxw]` input in `groups`: the gradients of
/// input, weight and bias, those `mask` asks for.
pub fn native_group_norm_backward(
    grad: &Tensor,
    forward: &Normalized,
    [n, c, hxw, groups]: [i64; 4],
    mask: [bool; 3],
) -> Result<Vec<Option<Tensor>>, TchError> {
    results::<3>(|out, error, capacity| {
        // SAFETY: every pointer is valid for the call or null for an absent tensor.
        unsafe {
            trh_native_group_norm_backward(
                grad.as_ptr(),
                forward.x.as_ptr(),
                forward.mean.as_ptr(),
                forward.rstd.as_ptr(),
                optional(forward.weight.as_ref()),
                n,
                c,
                hxw,
                groups,
                mask.as_ptr(),
                out,
                error,
                capacity,
            )
        }
    })
}

/// The buffer `log_sigmoid_forward` saves for `x`, which the CPU's `log_sigmoid_backward`
/// reads. CUDA's forward saves none (its backward recomputes), so on a GPU the buffer is
/// `exp(-|x|)` as the CPU's kernel defines it.
pub fn log_sigmoid_buffer(x: &Tensor) -> Result<Tensor, TchError> {
    if x.device() != tch::Device::Cpu {
        return x.f_abs()?.f_neg()?.f_exp();
    }
    // SAFETY: `x` outlives the call; the shim writes one result and a NUL-terminated error.
    let [buffer] = results::<1>(|out, error, capacity| unsafe {
        trh_log_sigmoid_buffer(x.as_ptr(), out, error, capacity)
    })?
    .try_into()
    .expect("one result");
    buffer.ok_or_else(|| TchError::Torch("log_sigmoid_forward gave no buffer".into()))
}

/// `nll_loss_forward` (`nll_loss2d_forward` where `spatial`): the loss and the total weight.
pub fn nll_loss_forward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    reduction: i64,
    ignore_index: i64,
    spatial: bool,
) -> Result<(Tensor, Tensor), TchError> {
    // SAFETY: the tensors outlive the call; the shim writes two results and a NUL-terminated
    // error.
    let results = results::<2>(|out, error, capacity| unsafe {
        trh_nll_loss_forward(
            x.as_ptr(),
            target.as_ptr(),
            optional(weight),
            reduction,
            ignore_index,
            spatial,
            out,
            error,
            capacity,
        )
    })?;
    match <[Option<Tensor>; 2]>::try_from(results) {
        Ok([Some(loss), Some(total)]) => Ok((loss, total)),
        _ => Err(TchError::Torch(
            "nll_loss_forward gave no total weight".into(),
        )),
    }
}
