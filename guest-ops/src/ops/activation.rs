//! Parameterized activations and their backwards (`gelu`, `silu`, `leaky_relu`, `hardtanh`,
//! `softplus`, `elu`, `sigmoid_backward`, `tanh_backward`, ...), and `clamp`/`clamp_min`/
//! `clamp_max`, all elementwise with TensorIterator's layout rules.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::{same_dtype_target, Pointwise};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_same_dtype, checked_number};
use crate::rules::propagate::preserve_strides;
use crate::types::{ActivationOp, BinaryOp, Scalar, ScalarType, TernaryOp};

/// Which activation an aten op is, before its parameters are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gelu,
    Silu,
    Sigmoid,
    Tanh,
    LeakyRelu,
    Hardtanh,
    Softplus,
    Elu,
    Logit,
    Mish,
    Hardswish,
    Hardsigmoid,
    Hardshrink,
    Softshrink,
    Threshold,
}

/// The forward kernel's name in PyTorch's "not implemented for" messages.
fn kernel_name(kind: Kind, backward: bool) -> &'static str {
    match (kind, backward) {
        (Kind::Gelu, false) => "GeluKernelImpl",
        (Kind::Gelu, true) => "GeluBackwardKernelImpl",
        (Kind::Silu, false) => "silu_cpu",
        (Kind::Silu, true) => "silu_backward_cpu",
        (Kind::Sigmoid, _) => "sigmoid_backward_cpu",
        (Kind::Tanh, _) => "tanh_backward_cpu",
        (Kind::LeakyRelu, false) => "leaky_relu_cpu",
        (Kind::LeakyRelu, true) => "leaky_relu_backward_cpu",
        (Kind::Hardtanh, _) => "hardshrink_backward_cpu",
        (Kind::Softplus, false) => "softplus_cpu",
        (Kind::Softplus, true) => "softplus_backward_cpu",
        (Kind::Elu, false) => "elu_cpu",
        (Kind::Elu, true) => "elu_backward_cpu",
        (Kind::Logit, false) => "logit_cpu",
        (Kind::Logit, true) => "logit_backward_cpu",
        (Kind::Mish, false) => "mish_cpu",
        (Kind::Mish, true) => "mish_backward_cpu",
        (Kind::Hardswish, false) => "hardswish_cpu",
        (Kind::Hardswish, true) => "hardswish_backward_cpu",
        (Kind::Hardsigmoid, false) => "hardsigmoid_cpu",
        (Kind::Hardsigmoid, true) => "hardsigmoid_backward_cpu",
        (Kind::Hardshrink, false) => "hardshrink_cpu",
        (Kind::Hardshrink, true) => "hardshrink_backward_cpu",
        (Kind::Softshrink, false) => "softshrink_cpu",
        (Kind::Softshrink, true) => "softshrink_backward_cpu",
        (Kind::Threshold, _) => "threshold_cpu",
    }
}

fn gelu(args: &Args, at: usize) -> Result<ActivationOp> {
    match args.opt_str(at)?.unwrap_or("none") {
        "none" => Ok(ActivationOp::Gelu),
        "tanh" => Ok(ActivationOp::GeluTanh),
        _ => Err(Error::invalid(
            "approximate argument must be either none or tanh.",
        )),
    }
}

/// The parameters of `kind` read from `args` starting at `at`, with the schema's defaults.
fn params(args: &Args, kind: Kind, at: usize) -> Result<ActivationOp> {
    Ok(match kind {
        Kind::Gelu => gelu(args, at)?,
        Kind::Silu => ActivationOp::Silu,
        Kind::Sigmoid => ActivationOp::Sigmoid,
        Kind::Tanh => ActivationOp::Tanh,
        Kind::LeakyRelu => ActivationOp::LeakyRelu(args.scalar_or(at, Scalar::Float(0.01))?),
        Kind::Hardtanh => ActivationOp::Hardtanh((
            args.scalar_or(at, Scalar::Integer(-1))?,
            args.scalar_or(at + 1, Scalar::Integer(1))?,
        )),
        Kind::Softplus => ActivationOp::Softplus((
            args.scalar_or(at, Scalar::Integer(1))?,
            args.scalar_or(at + 1, Scalar::Integer(20))?,
        )),
        Kind::Elu => ActivationOp::Elu((
            args.scalar_or(at, Scalar::Integer(1))?,
            args.scalar_or(at + 1, Scalar::Integer(1))?,
            args.scalar_or(at + 2, Scalar::Integer(1))?,
        )),
        Kind::Logit => ActivationOp::Logit(args.opt_float(at)?),
        Kind::Mish => ActivationOp::Mish,
        Kind::Hardswish => ActivationOp::Hardswish,
        Kind::Hardsigmoid => ActivationOp::Hardsigmoid,
        Kind::Hardshrink => ActivationOp::Hardshrink(args.scalar_or(at, Scalar::Float(0.5))?),
        Kind::Softshrink => ActivationOp::Softshrink(args.scalar_or(at, Scalar::Float(0.5))?),
        Kind::Threshold => ActivationOp::Threshold((args.scalar(at)?, args.scalar(at + 1)?)),
    })
}

/// How many parameters the forward op takes after `self`.
fn param_count(kind: Kind) -> usize {
    match kind {
        Kind::Gelu | Kind::LeakyRelu | Kind::Logit | Kind::Hardshrink | Kind::Softshrink => 1,
        Kind::Silu
        | Kind::Sigmoid
        | Kind::Tanh
        | Kind::Mish
        | Kind::Hardswish
        | Kind::Hardsigmoid => 0,
        Kind::Hardtanh | Kind::Softplus | Kind::Threshold => 2,
        Kind::Elu => 3,
    }
}

/// `log_sigmoid_forward(self)` and its `.output` form: the result and CPU's buffer, both
/// contiguous.
pub fn log_sigmoid_forward(args: &Args, cx: &mut Ctx, outs: bool) -> Outputs {
    args.at_most(if outs { 3 } else { 1 })?;
    let x = args.tensor(0)?;
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"log_sigmoid_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    let (dests, mut outputs, mut metas) = (
        if outs {
            [Dest::Out(1, args.tensor(1)?), Dest::Out(2, args.tensor(2)?)]
        } else {
            [Dest::New, Dest::New]
        },
        Vec::new(),
        Vec::new(),
    );
    for dest in dests {
        let (t, o) = crate::ops::out::output(cx, dest, &x.sizes, x.dtype)?;
        metas.push(t);
        outputs.push(o);
    }
    cx.k.activation(ActivationOp::LogSigmoid, x, &metas[0])
        .map_err(crate::kernels::failed("activation"))?;
    cx.k.activation(ActivationOp::LogSigmoidBuffer, x, &metas[1])
        .map_err(crate::kernels::failed("activation"))?;
    Ok(outputs)
}

/// `log_sigmoid_backward(grad_output, self, buffer)` and `.grad_input`: one TensorIterator
/// over `self`, `buffer` and `grad_output`, which broadcast (vmap's batched gradients) and
/// share one dtype (the host recomputes the buffer from `self`).
pub fn log_sigmoid_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (grad, x, buffer) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let dtype = x.dtype;
    check_same_dtype(dtype, &[buffer, grad])?;
    ensure_kernel!(
        dtype.is_floating(),
        "\"log_sigmoid_backward_cpu\" not implemented for '{}'",
        dtype.name()
    );
    let pw = Pointwise::new(vec![
        Value::Tensor(x),
        Value::Tensor(buffer),
        Value::Tensor(grad),
    ])?;
    let target = match form.dest(args)? {
        // The CPU's kernel writes into `empty_like(grad_output)`.
        Dest::New if grad.sizes == pw.shape => pw.fresh(cx, preserve_strides(grad)?, dtype)?,
        dest => pw.target(cx, dest, dtype, true)?,
    };
    let (x, grad) = (pw.expanded(0)?, pw.expanded(2)?);
    target.run(cx, "activation_backward", |k, out| {
        k.activation_backward(ActivationOp::LogSigmoid, &grad, &x, false, dtype, out)
    })
}

/// `gelu`, `silu`, `leaky_relu`, `hardtanh`, `softplus`, `elu`, `threshold`, ...:
/// `op(self, *params)`, `op_` and
/// `op.out(..., *, out)`. The result has `self`'s dtype, which an `out=` tensor must have.
pub fn forward(args: &Args, cx: &mut Ctx, form: Form, kind: Kind) -> Outputs {
    let n = param_count(kind);
    args.at_most(1 + n + form.out_len())?;
    let x = args.tensor(0)?;
    let op = params(args, kind, 1)?;
    if let ActivationOp::Hardtanh((min, max)) = op {
        ensure!(
            x.dtype != ScalarType::Bool,
            "Bool inputs not supported for hardtanh"
        );
        let negative = min.to_f64() < 0.0 || max.to_f64() < 0.0;
        ensure!(
            !(x.dtype == ScalarType::Uint8 && negative),
            "cannot do hardtanh on an unsigned type with negative limits"
        );
        checked_number(min, x.dtype)?;
        checked_number(max, x.dtype)?;
    } else if let ActivationOp::Threshold((threshold, value)) = op {
        ensure_kernel!(
            x.dtype != ScalarType::Bool,
            "\"threshold_cpu\" not implemented for 'Bool'"
        );
        checked_number(threshold, x.dtype)?;
        checked_number(value, x.dtype)?;
    } else {
        // Of these, only silu's CPU kernel takes complex numbers.
        let complex_too = kind == Kind::Silu;
        ensure_kernel!(
            x.dtype.is_floating() || (complex_too && x.dtype.is_complex()),
            "\"{}\" not implemented for '{}'",
            kernel_name(kind, false),
            x.dtype.name()
        );
    }
    if let ActivationOp::Softshrink(lambda) = &op {
        check_shrink_lambda(lambda.to_f64(), x.dtype)?;
    }
    let (target, input) = match (&op, form.dest(args)?) {
        // The CPU's hardtanh writes into `empty_like(self)`.
        (ActivationOp::Hardtanh(_), Dest::New) => {
            let pw = Pointwise::new(vec![Value::Tensor(x)])?;
            (pw.fresh(cx, preserve_strides(x)?, x.dtype)?, x.clone())
        }
        (_, dest) => same_dtype_target(cx, dest, x, true)?,
    };
    target.run(cx, "activation", |k, out| k.activation(op, &input, out))
}

/// Softshrink's lambda lies in `[0, max]` of the input's dtype; the CPU prints the bound as
/// C++ streams do.
fn check_shrink_lambda(lambda: f64, dtype: ScalarType) -> Result<()> {
    let (max, bound) = match dtype {
        ScalarType::Float16 => (65504.0, "65504"),
        ScalarType::Bfloat16 => (3.389_531_389_251_535e38, "3.38953e+38"),
        ScalarType::Float32 => (f64::from(f32::MAX), "3.40282e+38"),
        _ => (f64::MAX, "1.79769e+308"),
    };
    ensure!(
        (0.0..=max).contains(&lambda),
        "lambda must be in range [0, {bound}] for input dtype {}, but found {lambda}",
        dtype.name()
    );
    Ok(())
}

/// The backwards: `gelu_backward(grad, self, *, approximate)`, `silu_backward(grad, self)`,
/// `sigmoid_backward`/`tanh_backward(grad, output)`, `leaky_relu_backward(grad, self, slope,
/// self_is_result)`, `hardtanh_backward(grad, self, min, max)`, `softplus_backward(grad, self,
/// beta, threshold)`, `elu_backward(grad, alpha, scale, input_scale, is_result,
/// self_or_result)`, and their `grad_input=` forms. Grad and input promote like a binary op.
pub fn backward(args: &Args, cx: &mut Ctx, form: Form, kind: Kind) -> Outputs {
    let grad = args.tensor(0)?;
    let (x, op, x_is_result, len) = match kind {
        Kind::Elu => {
            let op = params(args, kind, 1)?;
            let is_result = args.bool_or(4, false)?;
            (args.tensor(5)?, op, is_result, 6)
        }
        Kind::LeakyRelu => {
            let op = params(args, kind, 2)?;
            (args.tensor(1)?, op, args.bool_or(3, false)?, 4)
        }
        Kind::Sigmoid | Kind::Tanh => (args.tensor(1)?, params(args, kind, 2)?, true, 2),
        _ => {
            let n = param_count(kind);
            (args.tensor(1)?, params(args, kind, 2)?, false, 2 + n)
        }
    };
    args.at_most(len + form.out_len())?;
    let negative = match op {
        ActivationOp::LeakyRelu(slope) => slope.to_f64() < 0.0,
        ActivationOp::Elu((alpha, _, _)) => alpha.to_f64() < 0.0,
        _ => false,
    };
    if x_is_result && negative {
        let what = if kind == Kind::Elu {
            "elu"
        } else {
            "leakyReLu"
        };
        return Err(Error::invalid(format!(
            "In-place {what} backward calculation is triggered with a negative slope which is \
             not supported. This is caused by calling in-place forward function with a negative \
             slope, please call out-of-place version instead."
        )));
    }
    // PyTorch's iterator for `leaky_relu_backward` takes `self` first, so that `self`'s
    // layout leads the result's; the other backwards take the gradient first.
    let self_first = kind == Kind::LeakyRelu;
    let order = if self_first { [x, grad] } else { [grad, x] };
    let pw = Pointwise::new(order.map(Value::Tensor).to_vec())?;
    let common = pw.common_dtype();
    let complex_too = matches!(kind, Kind::Sigmoid | Kind::Tanh);
    ensure_kernel!(
        common.is_floating() || (complex_too && common.is_complex()),
        "\"{}\" not implemented for '{}'",
        kernel_name(kind, true),
        common.name()
    );
    let target = pw.target(cx, form.dest(args)?, common, true)?;
    let (first, second) = (pw.expanded(0)?, pw.expanded(1)?);
    let (grad, x) = if self_first {
        (second, first)
    } else {
        (first, second)
    };
    target.run(cx, "activation_backward", |k, out| {
        k.activation_backward(op, &grad, &x, x_is_result, common, out)
    })
}

/// An optional `Scalar?`/`Tensor?` bound of `clamp`.
fn bound<'a>(args: &Args<'a>, i: usize) -> Result<Option<Value<'a>>> {
    match args.opt_tensor(i) {
        Ok(Some(t)) => Ok(Some(Value::Tensor(t))),
        Ok(None) => Ok(None),
        Err(_) => args.value(i).map(Some),
    }
}

/// Which bounds a clamp op takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    Both,
    Min,
    Max,
}

/// `clamp(self, min=None, max=None)` (Scalar and Tensor forms), `clamp_min(self, min)`,
/// `clamp_max(self, max)`, their in-place and `out=` forms. The result is the promoted dtype
/// of self and the bounds, which an `out=` tensor must have exactly.
pub fn clamp(args: &Args, cx: &mut Ctx, form: Form, bounds: Bounds) -> Outputs {
    let n = if bounds == Bounds::Both { 2 } else { 1 };
    args.at_most(1 + n + form.out_len())?;
    let x = args.tensor(0)?;
    let (min, max) = match bounds {
        Bounds::Both => (bound(args, 1)?, bound(args, 2)?),
        Bounds::Min => (Some(args.value(1)?), None),
        Bounds::Max => (None, Some(args.value(1)?)),
    };
    let mut inputs = vec![Value::Tensor(x)];
    inputs.extend(min);
    inputs.extend(max);
    ensure!(
        inputs.len() > 1,
        "torch.clamp: At least one of 'min' or 'max' must not be None"
    );
    let pw = Pointwise::with_parameters(inputs)?;
    let common = pw.common_dtype();
    for bound in [min, max].into_iter().flatten() {
        if let Value::Number(s) = bound {
            checked_number(s, common)?;
        }
    }
    let tensor_bounds = [min, max]
        .iter()
        .flatten()
        .all(|v| matches!(v, Value::Tensor(_)));
    // PyTorch clamps bools only against one tensor bound (`clamp_min.Tensor`, ...), which
    // `clamp` with one bound comes to.
    let kernel = match (min.is_some(), max.is_some(), tensor_bounds) {
        (true, true, true) => Some("clamp_cpu"),
        (true, true, false) => Some("clamp_scalar_cpu"),
        (true, false, false) => Some("clamp_min_scalar_cpu"),
        (false, _, false) => Some("clamp_max_scalar_cpu"),
        (_, _, true) => None,
    };
    if let Some(kernel) = kernel {
        ensure_kernel!(
            common != ScalarType::Bool,
            "\"{kernel}\" not implemented for 'Bool'"
        );
    }
    let dest = form.dest(args)?;
    // Numbers bound `clamp.out` to its own dtype; tensor bounds take any the result casts to.
    if let (Dest::Out(_, out), false) = (dest, tensor_bounds) {
        ensure!(
            out.dtype == common,
            "Found dtype {} but expected {}",
            out.dtype.name(),
            common.name()
        );
    }
    let target = pw.target(cx, dest, common, true)?;
    let a = pw.operand(0)?;
    let b = pw.operand(1)?;
    match (min, max) {
        (Some(_), Some(_)) => {
            let c = pw.operand(2)?;
            target.run(cx, "ternary", |k, out| {
                k.ternary(TernaryOp::Clamp, &a, &b, &c, None, common, out)
            })
        }
        (Some(_), None) => target.run(cx, "binary", |k, out| {
            k.binary(BinaryOp::ClampMin, &a, &b, None, common, out)
        }),
        _ => target.run(cx, "binary", |k, out| {
            k.binary(BinaryOp::ClampMax, &a, &b, None, common, out)
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, Scalar, ScalarType};

    #[test]
    fn forward_shapes_dtypes_and_params() {
        let mut xt = f32s(&[4, 3], 1);
        xt.strides = vec![1, 4];
        let (res, fake) = run("gelu", "", vec![arg(&xt), Arg::Str("tanh".into())]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 3], vec![1, 4], 0, ScalarType::Float32)
        );
        assert_eq!(fake.calls[0].detail, "ActivationOp::GeluTanh");
        let (res, _) = run("gelu", "", vec![arg(&xt), Arg::Str("foo".into())]);
        assert!(res
            .unwrap_err()
            .message
            .contains("approximate argument must be either none or tanh."));
        let (res, fake) = run("elu_", "", vec![arg(&xt), Arg::Scalar(Scalar::Float(0.5))]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(
            fake.calls[0].detail,
            "ActivationOp::Elu((Scalar::Float(0.5), Scalar::Integer(1), Scalar::Integer(1)))"
        );
        let long = tensor(&[3], ScalarType::Int64, 2);
        let (res, _) = run("silu", "", vec![arg(&long)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"silu_cpu\" not implemented for 'Long'"));
        let (res, _) = run("hardtanh", "", vec![arg(&long)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Int64);
        // aten's hardtanh clamps to max where the bounds cross (F.hardtanh refuses them).
        let inverted = vec![
            arg(&xt),
            Arg::Scalar(Scalar::Integer(1)),
            Arg::Scalar(Scalar::Integer(-1)),
        ];
        assert!(run("hardtanh", "", inverted).0.is_ok());
        let out = tensor(&[4, 3], ScalarType::Float64, 3);
        let (res, _) = run(
            "softplus",
            "out",
            vec![arg(&xt), Arg::None, Arg::None, arg(&out)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Found dtype Double but expected Float"));
    }

    #[test]
    fn backward_promotes_and_checks_slopes() {
        let (g, x) = (f32s(&[2, 3], 1), tensor(&[3], ScalarType::Float64, 2));
        let (res, fake) = run("sigmoid_backward", "", vec![arg(&g), arg(&x)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 3], vec![3, 1], 0, ScalarType::Float64)
        );
        assert_eq!(
            fake.calls[0].detail,
            "ActivationOp::Sigmoid true ScalarType::Float64"
        );
        assert_eq!(fake.calls[0].tensors[1].strides, vec![0, 1]);
        let args = vec![
            arg(&g),
            arg(&g),
            Arg::Scalar(Scalar::Float(-0.1)),
            Arg::Boolean(true),
        ];
        let (res, _) = run("leaky_relu_backward", "", args);
        assert!(res.unwrap_err().message.contains(
            "In-place leakyReLu backward calculation is triggered with a negative slope"
        ));
        let one = Arg::Scalar(Scalar::Integer(1));
        let args = vec![
            arg(&g),
            one.clone(),
            one.clone(),
            one,
            Arg::Boolean(false),
            arg(&g),
            arg(&f32s(&[6], 3)),
        ];
        let (res, _) = run("elu_backward", "grad_input", args);
        assert!(matches!(&res.unwrap()[0], Output::Updated((6, t)) if t.sizes == vec![2, 3]));
        let long = tensor(&[3], ScalarType::Int64, 4);
        let (res, _) = run("tanh_backward", "", vec![arg(&long), arg(&long)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"tanh_backward_cpu\" not implemented for 'Long'"));
    }

    #[test]
    fn clamp_forms() {
        let long = tensor(&[2, 3], ScalarType::Int64, 1);
        let half = Arg::Scalar(Scalar::Float(0.5));
        let (res, fake) = run("clamp", "", vec![arg(&long), half.clone(), Arg::None]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert_eq!(fake.kernels(), vec!["binary"]);
        assert!(fake.calls[0].detail.starts_with("BinaryOp::ClampMin "));
        let (res, fake) = run(
            "clamp",
            "Tensor",
            vec![
                arg(&f32s(&[3], 2)),
                Arg::OptionalTensor(Some(f32s(&[2, 1], 3))),
                Arg::OptionalTensor(Some(f32s(&[], 4))),
            ],
        );
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 3]);
        assert!(fake.calls[0].detail.starts_with("TernaryOp::Clamp "));
        let (res, _) = run("clamp", "", vec![arg(&long), Arg::None, Arg::None]);
        assert!(res
            .unwrap_err()
            .message
            .contains("At least one of 'min' or 'max' must not be None"));
        let (res, _) = run("clamp_max_", "", vec![arg(&long), half.clone()]);
        assert!(res.unwrap_err().message.contains("can't be cast"));
        let out = tensor(&[2, 3], ScalarType::Float64, 5);
        let (res, _) = run("clamp_min", "out", vec![arg(&long), half, arg(&out)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Found dtype Double but expected Float"));
    }
}
