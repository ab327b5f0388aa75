//! Elementwise ops of two operands (`add`, `div`, `eq`, `maximum`, `threshold_backward`, ...),
//! where either operand may be a wrapped Python number.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::Pointwise;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_not_bool, checked_number, default_float, scalar_dtype};
use crate::rules::layout::contiguous_strides;
use crate::types::{Arg, BinaryOp, Scalar, ScalarType};

/// How an op's result dtype follows the operands' common dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The common dtype; outputs may take any safe cast.
    Common,
    /// The common dtype, with integers promoted to the default float dtype.
    Float,
    /// Bool, castable to any output (comparisons and logical ops).
    Bool,
}

fn rule(op: BinaryOp) -> Rule {
    use BinaryOp::*;
    match op {
        Div | Atan2 | Xlogy | Copysign | Xlog1py | Zeta => Rule::Float,
        ChebyshevPolynomialT
        | ChebyshevPolynomialU
        | ChebyshevPolynomialV
        | ChebyshevPolynomialW
        | ShiftedChebyshevPolynomialT
        | ShiftedChebyshevPolynomialU
        | ShiftedChebyshevPolynomialV
        | ShiftedChebyshevPolynomialW
        | HermitePolynomialH
        | HermitePolynomialHe
        | LaguerrePolynomialL
        | LegendrePolynomialP => Rule::Float,
        Eq | Ne | Lt | Le | Gt | Ge | LogicalAnd | LogicalOr | LogicalXor => Rule::Bool,
        Add | Sub | Mul | DivTrunc | DivFloor | Remainder | Pow | Maximum | Minimum | ClampMin
        | ClampMax | BitwiseAnd | BitwiseOr | BitwiseXor | Fmod | Hypot | Logaddexp
        | Logaddexp2 | Heaviside | Fmax | Fmin | LeftShift | RightShift | Gcd | Lcm | Igamma
        | Igammac | Nextafter => Rule::Common,
    }
}

/// The name of the `torch.special` orthogonal polynomial `op` is, if it is one.
fn polynomial(op: BinaryOp) -> Option<&'static str> {
    use BinaryOp::*;
    Some(match op {
        ChebyshevPolynomialT => "chebyshev_polynomial_t",
        ChebyshevPolynomialU => "chebyshev_polynomial_u",
        ChebyshevPolynomialV => "chebyshev_polynomial_v",
        ChebyshevPolynomialW => "chebyshev_polynomial_w",
        ShiftedChebyshevPolynomialT => "shifted_chebyshev_polynomial_t",
        ShiftedChebyshevPolynomialU => "shifted_chebyshev_polynomial_u",
        ShiftedChebyshevPolynomialV => "shifted_chebyshev_polynomial_v",
        ShiftedChebyshevPolynomialW => "shifted_chebyshev_polynomial_w",
        HermitePolynomialH => "hermite_polynomial_h",
        HermitePolynomialHe => "hermite_polynomial_he",
        LaguerrePolynomialL => "laguerre_polynomial_l",
        LegendrePolynomialP => "legendre_polynomial_p",
        _ => return None,
    })
}

fn dtype_of(v: Value) -> ScalarType {
    match v {
        Value::Tensor(t) => t.dtype,
        Value::Number(s) => scalar_dtype(s),
    }
}

/// `sub_check` and `alpha_check`.
fn check_add(op: BinaryOp, a: Value, b: Value, alpha: Scalar, common: ScalarType) -> Result<()> {
    if op == BinaryOp::Sub {
        let (a_bool, b_bool) = (
            dtype_of(a) == ScalarType::Bool,
            dtype_of(b) == ScalarType::Bool,
        );
        ensure!(
            !(a_bool && b_bool),
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` \
             or `logical_xor()` operator instead."
        );
        ensure!(
            !(a_bool || b_bool),
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are \
             trying to invert a mask, use the `~` or `logical_not()` operator instead."
        );
    }
    ensure!(
        !matches!(alpha, Scalar::Boolean(_)) || common == ScalarType::Bool,
        "Boolean alpha only supported for Boolean results."
    );
    ensure!(
        common.is_floating()
            || common.is_complex()
            || matches!(alpha, Scalar::Integer(_) | Scalar::Boolean(_)),
        "For integral input tensors, argument alpha must not be a floating point number."
    );
    ensure!(
        common.is_complex() || !matches!(alpha, Scalar::Complex(_)),
        "For non-complex input tensors, argument alpha must not be a complex number."
    );
    checked_number(alpha, common).map(drop)
}

/// A number exponent converts to the base's dtype with a range check, except for the
/// `float` and `double` kernels, which take it as a double; negative integer powers of
/// integers are refused by the kernel before any conversion.
fn check_exponent(b: Value, common: ScalarType) -> Result<()> {
    let Value::Number(exponent) = b else {
        return Ok(());
    };
    let as_double = matches!(common, ScalarType::Float32 | ScalarType::Float64);
    if as_double || common.is_complex() || matches!(exponent, Scalar::Integer(e) if e < 0) {
        return Ok(());
    }
    checked_number(exponent, common).map(drop)
}

fn check_dtypes(op: BinaryOp, common: ScalarType) -> Result<()> {
    use BinaryOp::*;
    match op {
        BitwiseAnd | BitwiseOr | BitwiseXor => ensure_kernel!(
            common.is_integral(true),
            "\"bitwise_{}_cpu\" not implemented for '{}'",
            match op {
                BitwiseAnd => "and",
                BitwiseOr => "or",
                _ => "xor",
            },
            common.name()
        ),
        DivTrunc | DivFloor | Remainder | Fmod => ensure_kernel!(
            common != ScalarType::Bool,
            "\"{}_cpu\" not implemented for 'Bool'",
            match op {
                Remainder => "remainder",
                Fmod => "fmod",
                _ => "div",
            }
        ),
        LeftShift | RightShift | Gcd | Lcm => ensure_kernel!(
            common.is_integral(false),
            "\"{}_cpu\" not implemented for '{}'",
            match op {
                LeftShift => "lshift",
                RightShift => "rshift",
                Gcd => "gcd",
                _ => "lcm",
            },
            common.name()
        ),
        Logaddexp => ensure_kernel!(
            common.is_floating() || common.is_complex(),
            "\"logaddexp_cpu\" not implemented for '{}'",
            common.name()
        ),
        Hypot | Logaddexp2 | Igamma | Igammac | Nextafter => ensure_kernel!(
            common.is_floating(),
            "\"{}_cpu\" not implemented for '{}'",
            match op {
                Hypot => "hypot",
                Igamma => "igamma",
                Igammac => "igammac",
                Nextafter => "nextafter",
                _ => "logaddexp2",
            },
            common.name()
        ),
        op if polynomial(op).is_some() => ensure_kernel!(
            !matches!(common, ScalarType::Float16 | ScalarType::Bfloat16),
            "\"{}_cpu\" not implemented for '{}'",
            polynomial(op).unwrap_or_default(),
            common.name()
        ),
        Zeta => ensure_kernel!(
            !matches!(common, ScalarType::Float16 | ScalarType::Bfloat16),
            "\"zeta_cpu\" not implemented for '{}'",
            common.name()
        ),
        Pow => check_not_bool(common, "pow")?,
        _ => {}
    }
    Ok(())
}

/// `op(self, other)` in its Tensor, Scalar, in-place and `out=` forms; `add` and `sub` take
/// `alpha` as argument 2.
pub fn binary(args: &Args, cx: &mut Ctx, form: Form, op: BinaryOp) -> Outputs {
    let with_alpha = matches!(op, BinaryOp::Add | BinaryOp::Sub);
    let extra = usize::from(with_alpha) + form.out_len();
    args.at_most(2 + extra)?;
    let alpha = if with_alpha {
        Some(args.scalar_or(2, Scalar::Integer(1))?)
    } else {
        None
    };
    lower(args, cx, form, op, alpha)
}

/// `rsub(self, other, alpha=1)`: `other - alpha * self`, which PyTorch computes as `sub` with
/// the operands swapped.
pub fn rsub(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    args.tensor(0)?;
    let raw = args.raw();
    let mut swapped = vec![raw.get(1).cloned().unwrap_or(Arg::None), raw[0].clone()];
    swapped.extend(raw.get(2).cloned());
    binary(&Args::new(&swapped), cx, Form::Functional, BinaryOp::Sub)
}

/// `pow` in its Tensor_Tensor, Tensor_Scalar, Scalar, in-place and `out=` forms.
pub fn pow(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    if let (Value::Tensor(base), Value::Number(exp)) = (args.value(0)?, args.value(1)?) {
        let negative_int = match exp {
            Scalar::Integer(e) => e < 0,
            _ => false,
        };
        ensure!(
            !(base.dtype.is_integral(true) && negative_int),
            "Integers to negative integer powers are not allowed."
        );
    }
    lower(args, cx, form, BinaryOp::Pow, None)
}

/// `div(self, other, *, rounding_mode)` in all its forms.
pub fn div_mode(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let op = match args.opt_str(2)? {
        None => BinaryOp::Div,
        Some("trunc") => BinaryOp::DivTrunc,
        Some("floor") => BinaryOp::DivFloor,
        Some(other) => {
            return Err(Error::invalid(format!(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{other}'"
        )))
        }
    };
    lower(args, cx, form, op, None)
}

fn lower(args: &Args, cx: &mut Ctx, form: Form, op: BinaryOp, alpha: Option<Scalar>) -> Outputs {
    let (a, b) = (args.value(0)?, args.value(1)?);
    if op == BinaryOp::Heaviside {
        check_heaviside(a, b, form.dest(args)?)?;
    }
    // A number `pow` takes is a `Scalar` parameter (`Tensor_Scalar`, `Scalar`); other ops'
    // numbers are wrapped operands.
    let pw = match op {
        BinaryOp::Pow => Pointwise::with_parameters,
        _ => Pointwise::new,
    }(vec![a, b])?;
    let common = pw.common_dtype();
    if let Some(alpha) = alpha {
        check_add(op, a, b, alpha, common)?;
    }
    if let Some(copies) = trivial_power(op, a, b) {
        let target = pw.target(cx, form.dest(args)?, common, true)?;
        let base = pw.expanded(0)?;
        return if copies {
            target.run(cx, "copy", |k, out| k.copy(&base, out))
        } else {
            target.run(cx, "fill", |k, out| k.fill(out, Scalar::Integer(1)))
        };
    }
    let rule = rule(op);
    let compute = match rule {
        Rule::Float if common.is_integral(true) => default_float(),
        _ => common,
    };
    let result = if rule == Rule::Bool {
        ScalarType::Bool
    } else {
        compute
    };
    let dest = form.dest(args)?;
    if rule != Rule::Bool {
        pw.check_dest(dest, result)?;
    }
    check_dtypes(op, common)?;
    if op == BinaryOp::Pow {
        check_exponent(b, common)?;
    }
    let target = match (op, a, dest) {
        // `pow.Scalar`'s meta function allocates a contiguous result.
        (BinaryOp::Pow, Value::Number(_), Dest::New) => {
            pw.fresh(cx, contiguous_strides(&pw.shape)?, result)?
        }
        _ => pw.target(cx, dest, result, rule != Rule::Bool)?,
    };
    let (a, b) = (pw.operand(0)?, pw.operand(1)?);
    target.run(cx, "binary", |k, out| {
        k.binary(op, &a, &b, alpha, compute, out)
    })
}

/// `heaviside`'s meta function: both operands and any `out=` of one dtype.
fn check_heaviside(a: Value, b: Value, dest: Dest) -> Result<()> {
    let written = match dest {
        Dest::New => None,
        Dest::InPlace(_, t) | Dest::Out(_, t) => Some(t.dtype),
    };
    ensure!(
        dtype_of(a) == dtype_of(b) && written.is_none_or(|d| d == dtype_of(a)),
        "heaviside is not yet implemented for tensors with different dtypes."
    );
    Ok(())
}

/// For `tensor ** 0` (false) and `tensor ** 1` (true), which PyTorch fills with ones or
/// copies before any kernel runs, so that even a bool tensor takes them.
fn trivial_power(op: BinaryOp, base: Value, exp: Value) -> Option<bool> {
    let (BinaryOp::Pow, Value::Tensor(_), Value::Number(exp)) = (op, base, exp) else {
        return None;
    };
    match exp {
        Scalar::Integer(0) | Scalar::Boolean(false) => Some(false),
        Scalar::Integer(1) | Scalar::Boolean(true) => Some(true),
        Scalar::Float(0.0) | Scalar::Complex((0.0, 0.0)) => Some(false),
        Scalar::Float(1.0) | Scalar::Complex((1.0, 0.0)) => Some(true),
        _ => None,
    }
}

/// `threshold_backward(grad_output, self, threshold)` and its `grad_input=` form.
pub fn threshold_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    // PyTorch's iterator takes `self` before `grad`, so `self`'s layout leads the result's.
    let pw = Pointwise::new(vec![
        Value::Tensor(args.tensor(1)?),
        Value::Tensor(args.tensor(0)?),
    ])?;
    let threshold = args.scalar(2)?;
    let target = pw.target(cx, form.dest(args)?, pw.common_dtype(), true)?;
    let (x, grad) = (pw.expanded(0)?, pw.expanded(1)?);
    target.run(cx, "threshold_backward", |k, out| {
        k.threshold_backward(&grad, &x, threshold, out)
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, ErrorKind, Output, Scalar, ScalarType};

    fn alpha() -> Arg {
        Arg::Scalar(Scalar::Integer(1))
    }

    #[test]
    fn rsub_subtracts_self_from_other() {
        let x = tensor(&[3], ScalarType::Int64, 1);
        let (res, fake) = run(
            "rsub",
            "Scalar",
            vec![
                arg(&x),
                Arg::Scalar(Scalar::Float(2.5)),
                Arg::Scalar(Scalar::Integer(2)),
            ],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert!(
            fake.calls[0].detail.starts_with("BinaryOp::Sub"),
            "{}",
            fake.calls[0].detail
        );
    }

    #[test]
    fn special_binary_ops_promote_like_the_cpu() {
        let x = tensor(&[3], ScalarType::Int64, 1);
        let y = Arg::Scalar(Scalar::Float(2.5));
        let (res, _) = run("special_xlog1py", "other_scalar", vec![arg(&x), y]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        let (res, fake) = run("igamma", "", vec![arg(&x), arg(&x)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"igamma_cpu\" not implemented for 'Long'"));
        assert!(fake.calls.is_empty());
        let h = tensor(&[3], ScalarType::Float16, 2);
        let (res, _) = run("special_zeta", "", vec![arg(&h), arg(&h)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("\"zeta_cpu\" not implemented for 'Half'"));
        let (res, _) = run("nextafter_", "", vec![arg(&h), arg(&h)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
    }

    #[test]
    fn add_out_broadcasts_other_into_sized_out() {
        let (a, b, out) = (f32s(&[2, 3], 1), f32s(&[3], 2), f32s(&[2, 3], 3));
        let (res, fake) = run("add", "out", vec![arg(&a), arg(&b), alpha(), arg(&out)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(3)]);
        assert_eq!(fake.kernels(), vec!["binary"]);
        let call = &fake.calls[0];
        assert_eq!(
            call.detail,
            "BinaryOp::Add tensor tensor Some(Scalar::Integer(1)) ScalarType::Float32"
        );
        assert_eq!(call.tensors[1].strides, vec![0, 1]);
        assert_eq!(call.tensors[2], out);
        assert!(fake.allocated.is_empty());
    }

    #[test]
    fn broadcast_error_names_op_shapes_and_device() {
        let (a, b) = (f32s(&[2, 3], 1), f32s(&[4], 2));
        let (res, fake) = run("add", "out", vec![arg(&a), arg(&b), alpha(), arg(&a)]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(err.op, "add.out");
        assert_eq!(
            err.message,
            "add.out: The size of tensor a (3) must match the size of tensor b (4) at \
             non-singleton dimension 1 (shapes [2, 3] and [4]) (tensors [2, 3] Float, [4] Float, \
             [2, 3] Float on device remote)"
        );
        assert!(fake.calls.is_empty());
    }

    #[test]
    fn wrapped_float_with_int_tensor_gives_default_float() {
        let a = tensor(&[3], ScalarType::Int64, 1);
        let (res, fake) = run(
            "add",
            "Tensor",
            vec![arg(&a), Arg::Scalar(Scalar::Float(1.5)), alpha()],
        );
        let out = meta(&res.unwrap(), 0);
        assert_eq!(geometry(&out), (vec![3], vec![1], 0, ScalarType::Float32));
        assert_eq!(fake.allocated, vec![(100, 12)]);
        assert_eq!(
            fake.calls[0].detail,
            "BinaryOp::Add tensor Scalar::Float(1.5) Some(Scalar::Integer(1)) ScalarType::Float32"
        );
    }

    #[test]
    fn zero_dim_tensor_does_not_promote_within_category() {
        let (a, b) = (
            tensor(&[3], ScalarType::Int8, 1),
            tensor(&[], ScalarType::Int64, 2),
        );
        let (res, _) = run("mul", "Tensor", vec![arg(&a), arg(&b)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Int8);
    }

    #[test]
    fn in_place_int_with_float_cannot_cast() {
        let (a, b) = (tensor(&[3], ScalarType::Int64, 1), f32s(&[3], 2));
        let (res, _) = run("add_", "Tensor", vec![arg(&a), arg(&b), alpha()]);
        let err = res.unwrap_err();
        assert!(err
            .message
            .contains("result type Float can't be cast to the desired output type Long"));
    }

    #[test]
    fn in_place_cannot_broadcast_self() {
        let (a, b) = (f32s(&[3], 1), f32s(&[2, 3], 2));
        let (res, _) = run("mul_", "Tensor", vec![arg(&a), arg(&b)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("output with shape [3] doesn't match the broadcast shape [2, 3]"));
    }

    #[test]
    fn out_of_other_dtype_goes_through_a_temporary() {
        let (a, out) = (f32s(&[2], 1), tensor(&[2], ScalarType::Float64, 2));
        let (res, fake) = run("add", "out", vec![arg(&a), arg(&a), alpha(), arg(&out)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(3)]);
        assert_eq!(fake.kernels(), vec!["binary", "copy"]);
        assert_eq!(fake.allocated, vec![(100, 8)]);
        assert_eq!(fake.calls[1].tensors[1], out);
        assert_eq!(fake.freed, vec![100]);
    }

    #[test]
    fn resized_out_follows_input_layout_and_keeps_storage_when_it_fits() {
        // torch.add(a.t(), a.t(), out=empty(5)) on CPU: sizes [4, 3], strides (1, 4)
        let mut at = f32s(&[4, 3], 1);
        at.strides = vec![1, 4];
        let small = f32s(&[5], 2);
        let (res, fake) = run("add", "out", vec![arg(&at), arg(&at), alpha(), arg(&small)]);
        let out = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![4, 3], vec![1, 4], 0, ScalarType::Float32)
        );
        assert_eq!(fake.allocated, vec![(100, 48)]);
        assert_eq!(out.storage, 100);
        // empty(8)[1:7] resized to [2, 3] keeps its storage and offset
        let mut big = f32s(&[6], 3);
        big.storage_offset = 1;
        let b = f32s(&[2, 3], 4);
        let (res, fake) = run("add", "out", vec![arg(&b), arg(&b), alpha(), arg(&big)]);
        let outputs = res.unwrap();
        let Output::Updated((3, out)) = &outputs[0] else {
            panic!("{outputs:?}")
        };
        assert_eq!((out.storage, out.storage_offset), (3, 1));
        assert!(fake.allocated.is_empty());
    }

    #[test]
    fn comparisons_give_bool_and_cast_into_other_outputs() {
        let (a, b) = (f32s(&[3], 1), tensor(&[3], ScalarType::Int64, 2));
        let (res, fake) = run("eq", "Tensor", vec![arg(&a), arg(&b)]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Bool);
        assert_eq!(
            fake.calls[0].detail,
            "BinaryOp::Eq tensor tensor None ScalarType::Float32"
        );
        let (res, fake) = run(
            "gt",
            "Scalar_out",
            vec![arg(&a), Arg::Scalar(Scalar::Float(1.5)), arg(&b)],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(2)]);
        assert_eq!(fake.kernels(), vec!["binary", "copy"]);
        assert_eq!(
            fake.calls[0].tensors.last().unwrap().dtype,
            ScalarType::Bool
        );
        // long.lt_(1.5) is allowed: comparisons do not check the cast
        let (res, _) = run(
            "lt_",
            "Scalar",
            vec![arg(&b), Arg::Scalar(Scalar::Float(1.5))],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
    }

    #[test]
    fn division_dtypes_and_modes() {
        let a = tensor(&[3], ScalarType::Int64, 1);
        let two = Arg::Scalar(Scalar::Integer(2));
        let (res, fake) = run("div", "Tensor", vec![arg(&a), two.clone()]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert!(fake.calls[0].detail.starts_with("BinaryOp::Div "));
        let floor = Arg::Str("floor".into());
        let (res, fake) = run("div", "Tensor_mode", vec![arg(&a), two.clone(), floor]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Int64);
        assert!(fake.calls[0].detail.starts_with("BinaryOp::DivFloor "));
        let (res, _) = run(
            "div",
            "Tensor_mode",
            vec![arg(&a), two.clone(), Arg::Str("foo".into())],
        );
        assert!(res.unwrap_err().message.contains("but found 'foo'"));
        let (res, _) = run("div_", "Tensor", vec![arg(&a), two]);
        assert!(res.unwrap_err().message.contains("can't be cast"));
    }

    #[test]
    fn add_and_sub_argument_checks() {
        let b = tensor(&[3], ScalarType::Bool, 1);
        let (res, _) = run("sub", "Tensor", vec![arg(&b), arg(&b), alpha()]);
        assert!(res
            .unwrap_err()
            .message
            .contains("with two bool tensors is not supported"));
        let i = tensor(&[3], ScalarType::Int64, 2);
        let (res, _) = run(
            "add",
            "Tensor",
            vec![arg(&i), arg(&i), Arg::Scalar(Scalar::Float(1.5))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("argument alpha must not be a floating point number"));
        let f = f32s(&[3], 3);
        let (res, _) = run(
            "add",
            "Tensor",
            vec![arg(&f), arg(&f), Arg::Scalar(Scalar::Boolean(true))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Boolean alpha only supported for Boolean results."));
    }

    #[test]
    fn partial_overlap_with_out_is_rejected() {
        let mut src = f32s(&[3], 1);
        let mut dst = f32s(&[3], 1);
        dst.storage_offset = 1;
        let (res, _) = run(
            "add",
            "out",
            vec![
                arg(&src),
                Arg::Scalar(Scalar::Integer(1)),
                alpha(),
                arg(&dst),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("some elements of the input tensor"));
        src.storage_offset = 1;
        let (res, _) = run(
            "add",
            "out",
            vec![
                arg(&src),
                Arg::Scalar(Scalar::Integer(1)),
                alpha(),
                arg(&dst),
            ],
        );
        assert!(res.is_ok());
    }

    #[test]
    fn pow_dtypes_like_torch() {
        let i = tensor(&[3], ScalarType::Int64, 1);
        let (res, fake) = run(
            "pow",
            "Tensor_Scalar",
            vec![arg(&i), Arg::Scalar(Scalar::Float(2.5))],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert_eq!(
            fake.calls[0].detail,
            "BinaryOp::Pow tensor Scalar::Float(2.5) None ScalarType::Float32"
        );
        let (res, _) = run(
            "pow",
            "Scalar",
            vec![Arg::Scalar(Scalar::Integer(2)), arg(&i)],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Int64);
        let (res, _) = run(
            "pow",
            "Tensor_Scalar",
            vec![arg(&i), Arg::Scalar(Scalar::Integer(-1))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Integers to negative integer powers are not allowed."));
        let (res, _) = run(
            "pow_",
            "Scalar",
            vec![arg(&i), Arg::Scalar(Scalar::Float(2.5))],
        );
        assert!(res.unwrap_err().message.contains("can't be cast"));
    }

    #[test]
    fn threshold_backward_promotes_like_a_binary_op() {
        let (g, x) = (tensor(&[3], ScalarType::Float16, 1), f32s(&[3], 2));
        let zero = Arg::Scalar(Scalar::Integer(0));
        let (res, fake) = run("threshold_backward", "", vec![arg(&g), arg(&x), zero]);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert_eq!(fake.kernels(), vec!["threshold_backward"]);
    }

    #[test]
    fn failed_kernel_is_reported_and_frees_new_storage() {
        let a = f32s(&[2, 3], 1);
        let mut fake = crate::ops::testing::Fake {
            fail: Some("binary"),
            ..Default::default()
        };
        let args = vec![arg(&a), arg(&a), alpha()];
        let err = crate::ops::find("add", "Tensor")
            .and_then(|id| crate::ops::run(id, &args, crate::ops::testing::settings(), &mut fake))
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::KernelFailed);
        assert_eq!(
            err.message,
            "add.Tensor: kernel `binary` failed on the host: out of memory (tensors [2, 3] Float, \
             [2, 3] Float on device remote)"
        );
        assert_eq!(fake.freed, vec![100]);
    }

    #[test]
    fn unknown_ops_point_to_the_cpu_fallback() {
        let (res, _) = run("cummax", "", vec![arg(&f32s(&[3], 1)), Arg::Integer(0)]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotImplemented);
        assert!(err
            .message
            .contains("aten::cummax is not supported on device remote"));
        assert!(err.message.contains("TORCH_REMOTE_CPU_FALLBACK=1"));
    }
}
