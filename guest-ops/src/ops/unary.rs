//! Elementwise ops of one tensor (`exp`, `neg`, `relu`, ...), with PyTorch's dtype rules.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::complex::real_view;
use crate::ops::ctx::Ctx;
use crate::ops::iter::{same_dtype_target, Pointwise};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::default_float;
use crate::rules::layout::contiguous_strides;
use crate::rules::propagate::preserve_strides;
use crate::types::{
    ActivationOp, LibraryOp, Operand, Scalar, ScalarType, TensorMeta, TernaryOp, UnaryOp,
};

/// How an op's result dtype follows its input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Integer inputs give the default float dtype; outputs may take any safe cast.
    Float,
    /// The input's dtype, which an `out=` tensor must have too.
    Same,
    /// Bool, castable to any output.
    Bool,
}

fn rule(op: UnaryOp) -> Rule {
    use UnaryOp::*;
    match op {
        Exp
        | Log
        | Sqrt
        | Rsqrt
        | Sigmoid
        | Tanh
        | Sin
        | Cos
        | Erf
        | Log1p
        | Expm1
        | Reciprocal
        | Tan
        | Asin
        | Acos
        | Atan
        | Sinh
        | Cosh
        | Asinh
        | Acosh
        | Atanh
        | Log2
        | Log10
        | Exp2
        | Erfc
        | Erfinv
        | Lgamma
        | Digamma
        | Logit
        | Sinc
        | I0
        | Erfcx
        | I0e
        | I1
        | I1e
        | Ndtr
        | Ndtri
        | LogNdtr
        | Angle
        | Entr
        | BesselJ0
        | BesselJ1
        | BesselY0
        | BesselY1
        | ModifiedBesselI0
        | ModifiedBesselI1
        | ModifiedBesselK0
        | ModifiedBesselK1
        | ScaledModifiedBesselK0
        | ScaledModifiedBesselK1
        | SphericalBesselJ0
        | AiryAi => Rule::Float,
        LogicalNot | Isnan | Isneginf | Isposinf | Signbit => Rule::Bool,
        Neg | Abs | Conj | Relu | Ceil | Floor | Round | Trunc | Sign | BitwiseNot | Square
        | Frac => Rule::Same,
    }
}

/// The refusals PyTorch's meta functions make, before an `out=` tensor's dtype is checked.
fn check_meta(op: UnaryOp, dtype: ScalarType, dest: Dest) -> Result<()> {
    use UnaryOp::*;
    let bool_in = dtype == ScalarType::Bool;
    match (op, dest) {
        (Neg, _) => ensure!(
            !bool_in,
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to \
             invert a mask, use the `~` or `logical_not()` operator instead."
        ),
        (Relu, _) => ensure!(!bool_in, "Boolean inputs not supported for relu"),
        (Signbit | Isneginf | Isposinf, Dest::Out(_, out)) => ensure!(
            out.dtype == ScalarType::Bool,
            "{} does not support non-boolean outputs.",
            name(op)
        ),
        _ => {}
    }
    Ok(())
}

/// PyTorch's kernels' refusals of input dtypes, with their messages.
fn check_input(op: UnaryOp, dtype: ScalarType) -> Result<()> {
    use UnaryOp::*;
    let bool_in = dtype == ScalarType::Bool;
    match op {
        Abs | Floor => {
            ensure_kernel!(!bool_in, "\"{}_cpu\" not implemented for 'Bool'", name(op))
        }
        // Their CPU kernels are vectorised ones.
        Ceil | Round | Trunc => {
            ensure_kernel!(
                !bool_in,
                "\"{}_vml_cpu\" not implemented for 'Bool'",
                name(op)
            )
        }
        Frac => ensure_kernel!(
            dtype.is_floating(),
            "\"frac_cpu\" not implemented for '{}'",
            dtype.name()
        ),
        BitwiseNot => ensure_kernel!(
            dtype.is_integral(true),
            "\"bitwise_not_cpu\" not implemented for '{}'",
            dtype.name()
        ),
        _ => {
            if let Some(kernel) = double_and_float_only(op) {
                ensure_kernel!(
                    !matches!(dtype, ScalarType::Float16 | ScalarType::Bfloat16),
                    "\"{kernel}_cpu\" not implemented for '{}'",
                    dtype.name()
                );
            }
        }
    }
    Ok(())
}

/// The special functions whose CPU kernels exist for float and double only, by kernel name.
fn double_and_float_only(op: UnaryOp) -> Option<&'static str> {
    use UnaryOp::*;
    Some(match op {
        BesselJ0 => "bessel_j0",
        BesselJ1 => "bessel_j1",
        BesselY0 => "bessel_y0",
        BesselY1 => "bessel_y1",
        ModifiedBesselI0 => "modified_bessel_i0",
        ModifiedBesselI1 => "modified_bessel_i1",
        ModifiedBesselK0 => "modified_bessel_k0",
        ModifiedBesselK1 => "modified_bessel_k1",
        ScaledModifiedBesselK0 => "scaled_modified_bessel_k0",
        ScaledModifiedBesselK1 => "scaled_modified_bessel_k1",
        SphericalBesselJ0 => "spherical_bessel_j0",
        AiryAi => "airy_ai",
        Ndtri => "ndtri",
        LogNdtr => "log_ndtr",
        Erfcx => "erfcx",
        _ => return None,
    })
}

fn name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Abs => "abs",
        UnaryOp::Ceil => "ceil",
        UnaryOp::Floor => "floor",
        UnaryOp::Round => "round",
        UnaryOp::Signbit => "signbit",
        UnaryOp::Isneginf => "isneginf",
        UnaryOp::Isposinf => "isposinf",
        _ => "trunc",
    }
}

/// `op(self)`, `op_(self)` and `op.out(self, *, out)`.
pub fn unary(args: &Args, cx: &mut Ctx, form: Form, op: UnaryOp) -> Outputs {
    args.at_most(1 + form.out_len())?;
    lower(args, cx, form, op, None)
}

/// `round.decimals(self, *, decimals)`, `round_.decimals` and `.decimals_out`: floating
/// inputs only, laid out as `round` lays them out.
pub fn round_decimals(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let x = args.tensor(0)?;
    let decimals = args.int(1)?;
    let kernel = if decimals == 0 {
        "round_vml_cpu"
    } else {
        "round_cpu"
    };
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    let (target, input) = same_dtype_target(cx, form.dest(args)?, x, false)?;
    let op = LibraryOp::RoundDecimals(decimals);
    target.run(cx, "library", |k, out| {
        k.library(op, std::slice::from_ref(&input), std::slice::from_ref(out))
    })
}

/// `frexp.Tensor(self)` and `frexp.Tensor_out` (`outs`): mantissas in `self`'s dtype and
/// int32 exponents, both laid out as an elementwise result of `self`.
pub fn frexp(args: &Args, cx: &mut Ctx, outs: bool) -> Outputs {
    args.at_most(if outs { 3 } else { 1 })?;
    let x = args.tensor(0)?;
    ensure!(
        x.dtype.is_floating(),
        "torch.frexp() only supports floating-point dtypes"
    );
    let (mantissa, exponent) = if outs {
        let (m, e) = (args.tensor(1)?, args.tensor(2)?);
        ensure!(
            m.dtype == x.dtype,
            "torch.frexp() expects mantissa to have dtype {} but got {}",
            x.dtype.type_meta_name(),
            m.dtype.type_meta_name()
        );
        ensure!(
            e.dtype == ScalarType::Int32,
            "torch.frexp() expects exponent to have int dtype but got {}",
            e.dtype.type_meta_name()
        );
        (Dest::Out(1, m), Dest::Out(2, e))
    } else {
        (Dest::New, Dest::New)
    };
    let pw = Pointwise::new(vec![Value::Tensor(x)])?;
    let (mantissa, m) = pw.target(cx, mantissa, x.dtype, true)?.direct();
    let (exponent, e) = pw.target(cx, exponent, ScalarType::Int32, true)?.direct();
    cx.k.library(
        LibraryOp::Frexp,
        std::slice::from_ref(x),
        &[mantissa, exponent],
    )
    .map_err(failed("library"))?;
    Ok(vec![m, e])
}

/// `polygamma(n, self)`, `polygamma.out` and `polygamma_(self, n)`: the `n`-th derivative of
/// digamma, in floating point (integers promoted to the default dtype).
pub fn polygamma(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (n, x) = if form == Form::InPlace {
        (args.int(1)?, args.tensor(0)?)
    } else {
        (args.int(0)?, args.tensor(1)?)
    };
    ensure!(n >= 0, "polygamma(n, x) does not support negative n.");
    let result = if x.dtype.is_integral(true) {
        default_float()
    } else {
        x.dtype
    };
    let pw = Pointwise::new(vec![Value::Tensor(x)])?;
    let target = pw.target(cx, form.dest(args)?, result, true)?;
    let input = pw.expanded(0)?;
    target.run(cx, "library", |k, out| {
        k.library(
            LibraryOp::Polygamma(n),
            std::slice::from_ref(&input),
            std::slice::from_ref(out),
        )
    })
}

/// `logit(self, eps=None)`, `logit_` and `logit.out`: with `eps`, the input is clamped to
/// `[eps, 1 - eps]` first.
pub fn logit(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    lower(args, cx, form, UnaryOp::Logit, args.opt_float(1)?)
}

fn lower(args: &Args, cx: &mut Ctx, form: Form, op: UnaryOp, clamp: Option<f64>) -> Outputs {
    let x = args.tensor(0)?;
    let rule = rule(op);
    // The magnitude and the angle of a complex number are real.
    let to_real = x.dtype.is_complex() && matches!(op, UnaryOp::Abs | UnaryOp::Angle);
    let result = match rule {
        _ if to_real => x.dtype.real_part(),
        Rule::Float if x.dtype.is_integral(true) => default_float(),
        Rule::Float | Rule::Same => x.dtype,
        Rule::Bool => ScalarType::Bool,
    };
    let dest = form.dest(args)?;
    check_meta(op, x.dtype, dest)?;
    ensure!(
        !(to_real && matches!(dest, Dest::InPlace(..))),
        "In-place abs is not supported for complex tensors."
    );
    if let (Rule::Same, false, Dest::Out(_, out) | Dest::InPlace(_, out)) = (rule, to_real, dest) {
        ensure!(
            out.dtype == result,
            "Found dtype {} but expected {}",
            out.dtype.name(),
            result.name()
        );
    }
    check_input(op, x.dtype)?;
    let pw = Pointwise::new(vec![Value::Tensor(x)])?;
    let target = match dest {
        // PyTorch's complex `angle` fills an empty tensor it resizes, which comes out
        // contiguous whatever the input's layout (`abs` starts from `empty_like`).
        Dest::New if to_real && op == UnaryOp::Angle => {
            pw.fresh(cx, contiguous_strides(&x.sizes)?, result)?
        }
        _ => pw.target(cx, dest, result, rule == Rule::Float || to_real)?,
    };
    let input = pw.expanded(0)?;
    let compute = if rule == Rule::Bool || to_real {
        x.dtype
    } else {
        result
    };
    let Some(eps) = clamp else {
        return target.run(cx, "unary", |k, out| k.unary(op, &input, compute, out));
    };
    if input.dtype == compute {
        // libtorch's kernel clamps to `1 - eps` computed in the tensor's dtype.
        let logit = ActivationOp::Logit(Some(eps));
        return target.run(cx, "activation", |k, out| k.activation(logit, &input, out));
    }
    let clamped = cx.empty_contiguous(&input.sizes, compute)?;
    let (lo, hi) = (
        Operand::Number(Scalar::Float(eps)),
        Operand::Number(Scalar::Float(1.0 - eps)),
    );
    let x_in = Operand::Tensor(input);
    let outputs = target.run(cx, "unary", |k, out| {
        k.ternary(TernaryOp::Clamp, &x_in, &lo, &hi, None, compute, &clamped)?;
        k.unary(op, &clamped, compute, out)
    })?;
    cx.free(&clamped);
    Ok(outputs)
}

/// `nan_to_num(self, nan=None, posinf=None, neginf=None)`, `nan_to_num_` and `.out`: NaNs,
/// +inf and -inf replaced (by 0 and the dtype's extremes by default), in both parts of complex
/// numbers; integers are copied.
pub fn nan_to_num(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let x = args.tensor(0)?;
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == x.dtype,
            "nan_to_num: dtype of out: {} should be same as input: {}",
            out.dtype.name(),
            x.dtype.name()
        );
    }
    let pw = Pointwise::new(vec![Value::Tensor(x)])?;
    let target = match dest {
        // The CPU's nan_to_num writes into `empty_like(self)`.
        Dest::New => pw.fresh(cx, preserve_strides(x)?, x.dtype)?,
        dest => pw.target(cx, dest, x.dtype, true)?,
    };
    let input = pw.expanded(0)?;
    if !x.dtype.is_floating() && !x.dtype.is_complex() {
        return target.run(cx, "copy", |k, out| k.copy(&input, out));
    }
    // A complex number's real and imaginary parts are replaced alike.
    let parts = |t: &TensorMeta| {
        if t.dtype.is_complex() {
            real_view(t)
        } else {
            t.clone()
        }
    };
    let input = parts(&input);
    let top = input.dtype.limits().1;
    // The CPU casts each replacement to the dtype: one out of range becomes an infinity.
    let replacement = |at: usize, default: f64| -> Result<f64> {
        let value = args.opt_float(at)?.unwrap_or(default);
        Ok(input.dtype.cast_float(value))
    };
    let replacements = [
        (UnaryOp::Isnan, replacement(1, 0.0)?),
        (UnaryOp::Isposinf, replacement(2, top)?),
        (UnaryOp::Isneginf, replacement(3, -top)?),
    ];
    // Every mask reads the input before any fill: in place, a NaN replaced by +inf must not
    // then count as +inf.
    let masks = replacements
        .iter()
        .map(|_| cx.empty_contiguous(&input.sizes, ScalarType::Bool))
        .collect::<Result<Vec<_>>>()?;
    let outputs = target.run(cx, "masked_fill", |k, out| {
        let out = parts(out);
        for ((test, _), mask) in replacements.iter().zip(&masks) {
            k.unary(*test, &input, input.dtype, mask)?;
        }
        let mut from = input.clone();
        for ((_, value), mask) in replacements.iter().zip(&masks) {
            k.masked_fill(&from, mask, &Operand::Number(Scalar::Float(*value)), &out)?;
            from = out.clone();
        }
        Ok(())
    })?;
    for mask in &masks {
        cx.free(mask);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Output, ScalarType};

    #[test]
    fn float_ops_promote_integers() {
        let x = tensor(&[3], ScalarType::Int64, 1);
        let (res, fake) = run("exp", "", vec![arg(&x)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert_eq!(fake.calls[0].detail, "UnaryOp::Exp ScalarType::Float32");
        let (res, _) = run("exp_", "", vec![arg(&x)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("result type Float can't be cast to the desired output type Long"));
        let out = tensor(&[3], ScalarType::Float64, 2);
        let (res, fake) = run("sqrt", "out", vec![arg(&x), arg(&out)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(1)]);
        assert_eq!(fake.kernels(), vec!["unary", "copy"]);
    }

    #[test]
    fn special_functions_refuse_half_like_the_cpu() {
        let x = tensor(&[3], ScalarType::Int64, 1);
        let (res, _) = run("special_bessel_j0", "", vec![arg(&x)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        let h = tensor(&[3], ScalarType::Float16, 2);
        let (res, fake) = run("special_airy_ai", "", vec![arg(&h)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"airy_ai_cpu\" not implemented for 'Half'"));
        assert!(fake.calls.is_empty());
        let (res, _) = run("special_entr", "", vec![arg(&h)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float16);
    }

    #[test]
    fn same_dtype_ops_check_their_output() {
        let x = f32s(&[3], 1);
        let out = tensor(&[3], ScalarType::Float64, 2);
        let (res, _) = run("neg", "out", vec![arg(&x), arg(&out)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Found dtype Double but expected Float"));
        let b = tensor(&[3], ScalarType::Bool, 3);
        let (res, _) = run("neg", "", vec![arg(&b)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Negation, the `-` operator, on a bool tensor"));
        let (res, _) = run("relu", "", vec![arg(&b)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Boolean inputs not supported for relu"));
        let (res, _) = run("abs", "", vec![arg(&b)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"abs_cpu\" not implemented for 'Bool'"));
    }

    #[test]
    fn outputs_keep_the_input_layout() {
        // torch.relu(empty(3, 4).t()).stride() == (1, 4)
        let mut xt = f32s(&[4, 3], 1);
        xt.strides = vec![1, 4];
        let (res, fake) = run("relu", "", vec![arg(&xt)]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 3], vec![1, 4], 0, ScalarType::Float32)
        );
        assert_eq!(fake.calls[0].detail, "UnaryOp::Relu ScalarType::Float32");
        let (res, _) = run("relu_", "", vec![arg(&xt)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
    }

    #[test]
    fn logical_not_is_bool_into_any_output() {
        let x = f32s(&[2], 1);
        let (res, _) = run("logical_not", "", vec![arg(&x)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Bool);
        let out = tensor(&[2], ScalarType::Int64, 2);
        let (res, fake) = run("logical_not", "out", vec![arg(&x), arg(&out)]);
        assert!(res.is_ok());
        assert_eq!(fake.kernels(), vec!["unary", "copy"]);
    }
}
