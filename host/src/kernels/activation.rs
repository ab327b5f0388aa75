//! The activation kernels: libtorch's own functions (through [`numbers`] where tch does not
//! bind their parameters), else the same formula as PyTorch's CPU kernel.

use tch::{Kind, TchError, Tensor};

use super::{numbers, scalar};
use crate::guest::{ActivationOp, Scalar};

fn as_f64(value: &Scalar) -> f64 {
    match *value {
        Scalar::Integer(v) => v as f64,
        Scalar::Float(v) => v,
        Scalar::Boolean(v) => f64::from(u8::from(v)),
        Scalar::Complex((re, _)) => re,
    }
}

/// `op(x)` in `x`'s dtype.
pub fn forward(op: &ActivationOp, x: &Tensor) -> Result<Tensor, TchError> {
    match op {
        ActivationOp::Gelu => x.f_gelu("none"),
        ActivationOp::GeluTanh => x.f_gelu("tanh"),
        ActivationOp::Silu => x.f_silu(),
        ActivationOp::Sigmoid => x.f_sigmoid(),
        ActivationOp::Tanh => x.f_tanh(),
        ActivationOp::LogSigmoid => x.f_log_sigmoid(),
        ActivationOp::LogSigmoidBuffer => super::aten::log_sigmoid_buffer(x),
        // `x > 0 ? x : x * slope`
        ActivationOp::LeakyRelu(slope) => {
            x.f_where_self(&x.f_gt(0)?, &x.f_mul_scalar(scalar(slope))?)
        }
        // hardtanh is a clamp into a tensor of `x`'s dtype.
        ActivationOp::Hardtanh((min, max)) => {
            x.f_clamp(scalar(min), scalar(max))?.f_to_kind(x.kind())
        }
        ActivationOp::Softplus((beta, threshold)) => numbers::softplus(x, beta, threshold),
        ActivationOp::Elu((alpha, scale, input_scale)) => {
            numbers::elu(x, [alpha, scale, input_scale])
        }
        ActivationOp::Logit(eps) => x.f_logit(*eps),
        ActivationOp::Mish => x.f_mish(),
        ActivationOp::Hardswish => x.f_hardswish(),
        ActivationOp::Hardsigmoid => x.f_hardsigmoid(),
        ActivationOp::Hardshrink(lambda) => {
            let zero = x.f_zeros_like()?;
            zero.f_where_self(&inside(x, lambda)?, x)
        }
        ActivationOp::Softshrink(lambda) => numbers::softshrink(x, lambda),
        ActivationOp::Threshold((threshold, value)) => {
            x.f_threshold(scalar(threshold), scalar(value))
        }
    }
}

/// Where `x` lies in `[-lambda, lambda]` (false for NaN).
fn inside(x: &Tensor, lambda: &Scalar) -> Result<Tensor, TchError> {
    let l = as_f64(lambda);
    x.f_ge(-l)?.f_logical_and(&x.f_le(l)?)
}

/// `grad` times the derivative of `op` at `x` (the result, when `is_result`), both in `kind`.
pub fn backward(
    op: &ActivationOp,
    grad: &Tensor,
    x: &Tensor,
    is_result: bool,
    kind: Kind,
) -> Result<Tensor, TchError> {
    let grad = grad.f_to_kind(kind)?;
    let x = x.f_to_kind(kind)?;
    match op {
        ActivationOp::Gelu => x.f_gelu_backward(&grad, "none"),
        ActivationOp::GeluTanh => x.f_gelu_backward(&grad, "tanh"),
        ActivationOp::Silu => x.f_silu_backward(&grad),
        ActivationOp::Sigmoid => Tensor::f_sigmoid_backward(&grad, &x),
        ActivationOp::Tanh => Tensor::f_tanh_backward(&grad, &x),
        ActivationOp::LogSigmoid | ActivationOp::LogSigmoidBuffer => {
            let buffer = super::aten::log_sigmoid_buffer(&x)?;
            x.f_log_sigmoid_backward(&grad, &buffer)
        }
        ActivationOp::LeakyRelu(slope) => x.f_leaky_relu_backward(&grad, scalar(slope), is_result),
        ActivationOp::Hardtanh((min, max)) => {
            x.f_hardtanh_backward(&grad, scalar(min), scalar(max))
        }
        ActivationOp::Softplus((beta, threshold)) => {
            x.f_softplus_backward(&grad, scalar(beta), scalar(threshold))
        }
        ActivationOp::Elu((alpha, scale, input_scale)) => Tensor::f_elu_backward(
            &grad,
            scalar(alpha),
            scalar(scale),
            scalar(input_scale),
            is_result,
            &x,
        ),
        ActivationOp::Logit(eps) => x.f_logit_backward(&grad, *eps),
        ActivationOp::Mish => x.f_mish_backward(&grad),
        ActivationOp::Hardswish => x.f_hardswish_backward(&grad),
        ActivationOp::Hardsigmoid => x.f_hardsigmoid_backward(&grad),
        ActivationOp::Hardshrink(lambda) | ActivationOp::Softshrink(lambda) => grad
            .f_zeros_like()?
            .f_where_self(&inside(&x, lambda)?, &grad),
        // The guest lowers threshold's backward to `threshold_backward` itself; this is it.
        ActivationOp::Threshold((threshold, _)) => grad.f_threshold_backward(&x, scalar(threshold)),
    }
}
