//! Elementwise ops of three operands: `addcmul`, `addcdiv`, `lerp` and `where`.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::Pointwise;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{
    check_not_bool, checked_number, number_for, one_element_value, ResultType,
};
use crate::types::{Scalar, ScalarType, TensorMeta, TernaryOp};

/// `addcmul`/`addcdiv(self, tensor1, tensor2, *, value=1)` in all their forms.
pub fn addc(args: &Args, cx: &mut Ctx, form: Form, op: TernaryOp) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let inputs = vec![args.value(0)?, args.value(1)?, args.value(2)?];
    if op == TernaryOp::Addcdiv {
        let integral = |v: &Value| matches!(v, Value::Tensor(t) if t.dtype.is_integral(true));
        ensure!(
            !(integral(&inputs[1]) && integral(&inputs[2])),
            "Integer division with addcdiv is no longer supported, and in a future release \
             addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv \
             behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2)).\
             to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for \
             float inputs. The future addcdiv behavior is just the latter implementation: \
             (input + value * tensor1 / tensor2), for all dtypes."
        );
    }
    let pw = Pointwise::new(inputs)?;
    let common = pw.common_dtype();
    let kernel = if op == TernaryOp::Addcmul {
        "addcmul_cpu_out"
    } else {
        "addcdiv_cpu_out"
    };
    check_not_bool(common, kernel)?;
    let value = args.scalar_or(3, Scalar::Integer(1))?;
    // The kernel converts `value` to its compute type, checked.
    checked_number(value, common.op_math())?;
    let value = match value {
        // PyTorch reads `value` as the compute type: a float truncates for integer tensors.
        Scalar::Float(v) if common.is_integral(false) => Scalar::Integer(v as i64),
        other => other,
    };
    let target = pw.target(cx, form.dest(args)?, common, true)?;
    let (a, b, c) = (pw.operand(0)?, pw.operand(1)?, pw.operand(2)?);
    target.run(cx, "ternary", |k, out| {
        k.ternary(op, &a, &b, &c, Some(value), common, out)
    })
}

/// `lerp`'s own check: `end` in `self`'s dtype.
fn check_lerp(this: &TensorMeta, end: &TensorMeta) -> Result<()> {
    ensure!(
        this.dtype == end.dtype,
        "expected dtype {} for `end` but got dtype {}",
        this.dtype.type_meta_name(),
        end.dtype.type_meta_name()
    );
    Ok(())
}

/// The kernel's dtype check: after TensorIterator's checks of `dest`, before any number
/// weight is read. A number weight is not one of the iterator's operands, so the kernel runs
/// in `self`'s dtype then.
fn check_lerp_kernel(pw: &Pointwise, dest: Dest, dtype: ScalarType, kernel: &str) -> Result<()> {
    pw.check_dest(dest, dtype)?;
    ensure_kernel!(
        dtype.is_floating() || dtype.is_complex(),
        "\"lerp_kernel_{kernel}\" not implemented for '{}'",
        dtype.name()
    );
    Ok(())
}

/// `lerp.Scalar`/`lerp.Tensor(self, end, weight)` in all their forms.
pub fn lerp(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (this, end) = (args.tensor(0)?, args.tensor(1)?);
    check_lerp(this, end)?;
    let dest = form.dest(args)?;
    let weight = match args.value(2)? {
        // The kernel reads a number weight in its compute type: float for half precision.
        Value::Number(n) => {
            let operands = Pointwise::new(vec![Value::Tensor(this), Value::Tensor(end)])?;
            check_lerp_kernel(&operands, dest, this.dtype, "scalar")?;
            checked_number(n, this.dtype.op_math())?;
            Value::Number(number_for(n, this.dtype)?)
        }
        tensor => tensor,
    };
    if let Value::Tensor(w) = weight {
        // A 0-dim weight may be of another dtype; it is promoted like any 0-dim operand.
        ensure!(
            w.dtype == this.dtype || w.dim() == 0,
            "expected dtype {} for `weight` but got dtype {}",
            this.dtype.type_meta_name(),
            w.dtype.type_meta_name()
        );
    }
    let pw = Pointwise::with_parameters(vec![Value::Tensor(this), Value::Tensor(end), weight])?;
    let common = pw.common_dtype();
    if let Value::Tensor(_) = weight {
        check_lerp_kernel(&pw, dest, common, "tensor")?;
    }
    let target = pw.target(cx, dest, common, true)?;
    let (a, b, c) = (pw.operand(0)?, pw.operand(1)?, pw.operand(2)?);
    target.run(cx, "ternary", |k, out| {
        k.ternary(TernaryOp::Lerp, &a, &b, &c, None, common, out)
    })
}

/// `where.self(condition, self, other)` and `where.self_out`.
pub fn where_(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (cond, this, other) = (args.value(0)?, args.value(1)?, args.value(2)?);
    let mut state = ResultType::default();
    for v in [this, other] {
        match v {
            Value::Tensor(t) => state.tensor(t.dtype, t.dim()),
            Value::Number(s) => state.number(s),
        }
    }
    let result = state.result().unwrap_or(ScalarType::Float32);
    // PyTorch makes a number a tensor of one element first (`scalar_tensor`).
    for v in [this, other] {
        if let Value::Number(s) = v {
            checked_number(one_element_value(s, result), result)?;
        }
    }
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == result,
            "Expected out type to be {} but got {}",
            result.name(),
            out.dtype.name()
        );
    }
    // A uint8 condition still works in PyTorch (deprecated): it is read as bool.
    let bool_cond = match cond {
        Value::Tensor(c) if c.dtype == ScalarType::Uint8 => {
            cx.warn_once(
                "where received a uint8 condition tensor. This behavior is deprecated and will \
                 be removed in a future version of PyTorch. Use a boolean condition instead.",
            );
            Some(as_bool(cx, c)?)
        }
        Value::Tensor(c) => {
            ensure!(
                c.dtype == ScalarType::Bool,
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                c.dtype.name()
            );
            None
        }
        Value::Number(_) => None,
    };
    let cond = bool_cond.as_ref().map_or(cond, Value::Tensor);
    let pw = Pointwise::new(vec![cond, this, other])?;
    let target = pw.target(cx, dest, result, true)?;
    let (c, a, b) = (pw.operand(0)?, pw.operand(1)?, pw.operand(2)?);
    let outputs = target.run(cx, "ternary", |k, out| {
        k.ternary(TernaryOp::Where, &c, &a, &b, None, result, out)
    })?;
    if let Some(temp) = &bool_cond {
        cx.free(temp);
    }
    Ok(outputs)
}

fn as_bool(cx: &mut Ctx, t: &TensorMeta) -> Result<TensorMeta> {
    let temp = cx.empty_contiguous(&t.sizes, ScalarType::Bool)?;
    cx.k.copy(t, &temp).map_err(failed("copy"))?;
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, meta, run, tensor};
    use crate::types::{Arg, Output, Scalar, ScalarType};

    #[test]
    fn addcmul_promotes_all_three() {
        // addcmul(int32 [3], int64 [3], 0-dim double) -> float64, checked with torch
        let (a, b, c) = (
            tensor(&[3], ScalarType::Int32, 1),
            tensor(&[3], ScalarType::Int64, 2),
            tensor(&[], ScalarType::Float64, 3),
        );
        let (res, fake) = run(
            "addcmul",
            "",
            vec![arg(&a), arg(&b), arg(&c), Arg::Scalar(Scalar::Integer(2))],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float64);
        assert_eq!(
            fake.calls[0].detail,
            "TernaryOp::Addcmul tensor tensor tensor Some(Scalar::Integer(2)) ScalarType::Float64"
        );
        assert_eq!(fake.calls[0].tensors[2].strides, vec![0]);
        let i = tensor(&[3], ScalarType::Int64, 4);
        let (res, _) = run("addcdiv", "", vec![arg(&i), arg(&i), arg(&i)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Integer division with addcdiv is no longer supported"));
        let (res, fake) = run(
            "addcmul",
            "",
            vec![arg(&i), arg(&i), arg(&i), Arg::Scalar(Scalar::Float(-2.7))],
        );
        assert!(res.is_ok());
        assert!(fake.calls[0].detail.contains("Some(Scalar::Integer(-2))"));
        let x = f32s(&[3], 5);
        let (res, _) = run("addcdiv_", "", vec![arg(&x), arg(&x), arg(&x)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
    }

    #[test]
    fn lerp_checks_dtypes() {
        let (a, b) = (f32s(&[3], 1), f32s(&[3], 2));
        let (res, fake) = run(
            "lerp",
            "Scalar",
            vec![arg(&a), arg(&b), Arg::Scalar(Scalar::Float(0.5))],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert_eq!(
            fake.calls[0].detail,
            "TernaryOp::Lerp tensor tensor Scalar::Float(0.5) None ScalarType::Float32"
        );
        let d = tensor(&[3], ScalarType::Float64, 3);
        let (res, _) = run(
            "lerp",
            "Scalar",
            vec![arg(&a), arg(&d), Arg::Scalar(Scalar::Float(0.5))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("expected dtype float for `end` but got dtype double"));
        let (res, _) = run("lerp", "Tensor", vec![arg(&a), arg(&b), arg(&d)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("expected dtype float for `weight` but got dtype double"));
        let (res, _) = run(
            "lerp",
            "Tensor",
            vec![arg(&a), arg(&b), arg(&tensor(&[], ScalarType::Float64, 4))],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        let (res, _) = run(
            "lerp_",
            "Scalar",
            vec![
                arg(&a),
                arg(&f32s(&[2, 3], 5)),
                Arg::Scalar(Scalar::Float(0.5)),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("output with shape [3] doesn't match the broadcast shape [2, 3]"));
    }

    #[test]
    fn where_promotes_values_only() {
        let cond = tensor(&[3], ScalarType::Bool, 1);
        let long = tensor(&[3], ScalarType::Int64, 2);
        let (res, fake) = run(
            "where",
            "self",
            vec![arg(&cond), arg(&long), Arg::Scalar(Scalar::Float(1.5))],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
        assert!(fake.calls[0]
            .detail
            .starts_with("TernaryOp::Where tensor tensor Scalar::Float(1.5)"));
        let (res, _) = run(
            "where",
            "self",
            vec![arg(&f32s(&[3], 3)), arg(&long), arg(&long)],
        );
        assert!(res.unwrap_err().message.contains(
            "where expected condition to be a boolean tensor, but got a tensor with dtype Float"
        ));
        let out = tensor(&[3], ScalarType::Float64, 4);
        let (res, _) = run(
            "where",
            "self_out",
            vec![
                arg(&cond),
                arg(&f32s(&[3], 5)),
                arg(&f32s(&[3], 6)),
                arg(&out),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected out type to be Float but got Double"));
        let byte = tensor(&[3], ScalarType::Uint8, 7);
        let (res, fake) = run("where", "self", vec![arg(&byte), arg(&long), arg(&long)]);
        assert!(res.is_ok());
        assert_eq!(fake.kernels(), vec!["copy", "ternary"]);
        assert_eq!(fake.calls[0].tensors[1].dtype, ScalarType::Bool);
        assert_eq!(fake.freed, vec![100]);
    }
}
