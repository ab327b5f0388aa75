//! aten calls that take Python numbers whole, through `host/csrc/numbers.cpp`: a number as
//! the wrapped-number tensor PyTorch's Python binding makes of it, the number parameters
//! tch's bindings drop, and the optional ones they cannot leave out (`segment_reduce`'s
//! `initial`). A kernel then computes with the number itself (in float for
//! bfloat16 and half tensors), as PyTorch's CPU and CUDA kernels do, where a number first
//! rounded to the tensors' dtype would move the result by an ulp or more.

use tch::{TchError, Tensor};
use torch_sys::C_tensor;

use super::aten::results;
use crate::guest::{Reduction, Scalar, SegmentReduceParams};
use std::ffi::{c_char, c_int, CStr};
use std::ptr;

/// `trh_number`: a Python number; `kind` says which field holds it.
#[repr(C)]
struct Number {
    /// 0 int, 1 float, 2 bool (in `integer`), 3 complex.
    kind: i32,
    integer: i64,
    real: f64,
    imag: f64,
}

impl From<&Scalar> for Number {
    fn from(value: &Scalar) -> Self {
        let (kind, integer, real, imag) = match *value {
            Scalar::Integer(v) => (0, v, 0.0, 0.0),
            Scalar::Float(v) => (1, 0, v, 0.0),
            Scalar::Boolean(v) => (2, i64::from(v), 0.0, 0.0),
            Scalar::Complex((re, im)) => (3, 0, re, im),
        };
        Number {
            kind,
            integer,
            real,
            imag,
        }
    }
}

/// `trh_activation_op`.
const ELU: i32 = 0;
const SOFTPLUS: i32 = 1;
const SOFTSHRINK: i32 = 2;

extern "C" {
    fn trh_segment_reduce(
        data: *const C_tensor,
        reduce: *const c_char,
        bounds: *const C_tensor,
        offsets: bool,
        axis: i64,
        unchecked: bool,
        initial: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_segment_reduce_backward(
        grad: *const C_tensor,
        output: *const C_tensor,
        data: *const C_tensor,
        reduce: *const c_char,
        bounds: *const C_tensor,
        offsets: bool,
        axis: i64,
        initial: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_wrapped_number(
        n: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_add(
        a: *const C_tensor,
        b: *const C_tensor,
        alpha: *const Number,
        subtract: bool,
        in_place: bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_addcmul(
        a: *const C_tensor,
        b: *const C_tensor,
        c: *const C_tensor,
        value: *const Number,
        divide: bool,
        in_place: bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_addmm(
        bias: *const C_tensor,
        a: *const C_tensor,
        b: *const C_tensor,
        beta: *const Number,
        alpha: *const Number,
        batched: bool,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_addmv(
        bias: *const C_tensor,
        mat: *const C_tensor,
        vec: *const C_tensor,
        beta: *const Number,
        alpha: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_index_add(
        x: *const C_tensor,
        dim: i64,
        index: *const C_tensor,
        source: *const C_tensor,
        alpha: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;

    fn trh_activation(
        op: i32,
        x: *const C_tensor,
        params: *const Number,
        out: *mut *mut C_tensor,
        error: *mut c_char,
        capacity: usize,
    ) -> c_int;
}

/// The one tensor a shim function hands back.
fn one(
    call: impl FnOnce(*mut *mut C_tensor, *mut c_char, usize) -> c_int,
) -> Result<Tensor, TchError> {
    results::<1>(call)?
        .pop()
        .flatten()
        .ok_or_else(|| TchError::Torch("a shim returned no tensor".into()))
}

/// `value` as PyTorch passes a Python number to a tensor op: a 0-dim CPU tensor of the
/// number's own type (int64, double, bool, complex128) marked as a wrapped number, so that
/// type promotion ranks it below every tensor and kernels read it whole.
pub fn wrapped(value: &Scalar) -> Result<Tensor, TchError> {
    let n = Number::from(value);
    // SAFETY: `n` lives for the call.
    one(|out, error, capacity| unsafe { trh_wrapped_number(&n, out, error, capacity) })
}

/// `a + alpha * b` (`a - alpha * b` if `subtract`), into `a` if `in_place`.
pub fn add(
    a: &Tensor,
    b: &Tensor,
    alpha: &Scalar,
    subtract: bool,
    in_place: bool,
) -> Result<Tensor, TchError> {
    let alpha = Number::from(alpha);
    one(|out, error, capacity| {
        // SAFETY: the tensors and `alpha` live for the call.
        unsafe {
            trh_add(
                a.as_ptr(),
                b.as_ptr(),
                &alpha,
                subtract,
                in_place,
                out,
                error,
                capacity,
            )
        }
    })
}

/// `a + value * b * c` (`a + value * b / c` if `divide`), into `a` if `in_place`.
pub fn addcmul(
    [a, b, c]: [&Tensor; 3],
    value: &Scalar,
    divide: bool,
    in_place: bool,
) -> Result<Tensor, TchError> {
    let value = Number::from(value);
    one(|out, error, capacity| {
        // SAFETY: the tensors and `value` live for the call.
        unsafe {
            trh_addcmul(
                a.as_ptr(),
                b.as_ptr(),
                c.as_ptr(),
                &value,
                divide,
                in_place,
                out,
                error,
                capacity,
            )
        }
    })
}

/// `beta * bias + alpha * (a @ b)`: `addmm`, or `baddbmm` if `batched`.
pub fn addmm(
    [bias, a, b]: [&Tensor; 3],
    beta: &Scalar,
    alpha: &Scalar,
    batched: bool,
) -> Result<Tensor, TchError> {
    let (beta, alpha) = (Number::from(beta), Number::from(alpha));
    one(|out, error, capacity| {
        // SAFETY: the tensors and both numbers live for the call.
        unsafe {
            trh_addmm(
                bias.as_ptr(),
                a.as_ptr(),
                b.as_ptr(),
                &beta,
                &alpha,
                batched,
                out,
                error,
                capacity,
            )
        }
    })
}

/// `addmv(bias, mat, vec, beta, alpha)`, or `mv(mat, vec)` without a bias: the CPU's gemv,
/// whose sums a one-column matrix product does not repeat for complex (or half) tensors.
pub fn addmv(
    [mat, vec]: [&Tensor; 2],
    bias: Option<&Tensor>,
    beta: &Scalar,
    alpha: &Scalar,
) -> Result<Tensor, TchError> {
    let (beta, alpha) = (Number::from(beta), Number::from(alpha));
    let bias = bias.map_or(std::ptr::null(), Tensor::as_ptr);
    one(|out, error, capacity| {
        // SAFETY: the tensors and both numbers live for the call; a null bias means none.
        unsafe {
            trh_addmv(
                bias,
                mat.as_ptr(),
                vec.as_ptr(),
                &beta,
                &alpha,
                out,
                error,
                capacity,
            )
        }
    })
}

/// `index_add(x, dim, index, source, alpha)`.
pub fn index_add(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: &Scalar,
) -> Result<Tensor, TchError> {
    let alpha = Number::from(alpha);
    one(|out, error, capacity| {
        // SAFETY: the tensors and `alpha` live for the call.
        unsafe {
            let (x, index, source) = (x.as_ptr(), index.as_ptr(), source.as_ptr());
            trh_index_add(x, dim, index, source, &alpha, out, error, capacity)
        }
    })
}

/// `elu(x, alpha, scale, input_scale)`.
pub fn elu(x: &Tensor, [alpha, scale, input_scale]: [&Scalar; 3]) -> Result<Tensor, TchError> {
    activation(ELU, x, [alpha, scale, input_scale])
}

/// `softplus(x, beta, threshold)`.
pub fn softplus(x: &Tensor, beta: &Scalar, threshold: &Scalar) -> Result<Tensor, TchError> {
    activation(SOFTPLUS, x, [beta, threshold, threshold])
}

/// `softshrink(x, lambda)`.
pub fn softshrink(x: &Tensor, lambda: &Scalar) -> Result<Tensor, TchError> {
    activation(SOFTSHRINK, x, [lambda, lambda, lambda])
}

/// Activation `code` of `x`; it reads as many of `params` as it takes.
fn activation(code: i32, x: &Tensor, params: [&Scalar; 3]) -> Result<Tensor, TchError> {
    let params = params.map(Number::from);
    one(|out, error, capacity| {
        // SAFETY: `x` and the three parameters live for the call.
        unsafe { trh_activation(code, x.as_ptr(), params.as_ptr(), out, error, capacity) }
    })
}

/// `segment_reduce`'s `reduce` as its kernels name it.
fn reduce_name(reduce: Reduction) -> &'static CStr {
    match reduce {
        Reduction::Sum => c"sum",
        Reduction::Prod => c"prod",
        Reduction::Mean => c"mean",
        Reduction::Amax => c"max",
        Reduction::Amin => c"min",
    }
}

/// `segment_reduce(data, bounds)`: the bounds are lengths or offsets as `p` says, and stay
/// inside `data` (the caller checked them).
pub fn segment_reduce(
    data: &Tensor,
    bounds: &Tensor,
    p: &SegmentReduceParams,
) -> Result<Tensor, TchError> {
    let initial = p.initial.as_ref().map(Number::from);
    let initial = initial.as_ref().map_or(ptr::null(), |n| n as *const Number);
    one(|out, error, capacity| {
        // SAFETY: the tensors, the name and `initial` live for the call.
        unsafe {
            trh_segment_reduce(
                data.as_ptr(),
                reduce_name(p.reduce).as_ptr(),
                bounds.as_ptr(),
                p.offsets,
                p.axis,
                p.unchecked,
                initial,
                out,
                error,
                capacity,
            )
        }
    })
}

/// `_segment_reduce_backward(grad, output, data, bounds)`, as `segment_reduce` above.
pub fn segment_reduce_backward(
    [grad, output, data, bounds]: [&Tensor; 4],
    p: &SegmentReduceParams,
) -> Result<Tensor, TchError> {
    let initial = p.initial.as_ref().map(Number::from);
    let initial = initial.as_ref().map_or(ptr::null(), |n| n as *const Number);
    one(|out, error, capacity| {
        // SAFETY: the tensors, the name and `initial` live for the call.
        unsafe {
            trh_segment_reduce_backward(
                grad.as_ptr(),
                output.as_ptr(),
                data.as_ptr(),
                reduce_name(p.reduce).as_ptr(),
                bounds.as_ptr(),
                p.offsets,
                p.axis,
                initial,
                out,
                error,
                capacity,
            )
        }
    })
}
