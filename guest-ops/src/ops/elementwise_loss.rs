//! The losses taken elementwise and then reduced: `mse_loss`, `smooth_l1_loss`,
//! `huber_loss`, `binary_cross_entropy`, and their backwards. PyTorch's argument checks,
//! output shapes, layouts and dtypes; one kernel each.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::{Pointwise, Target};
use crate::ops::out::{output, resize_quietly};
use crate::ops::reduce::reduce_into;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_can_cast, check_same_dtype};
use crate::rules::shape::fmt_shape;
use crate::types::{LossOp, LossOptions, Output, ReduceOp, TensorMeta};

/// What follows `self, target` in the schemas of `op` and its backward.
fn tail_len(op: LossOp) -> usize {
    match op {
        LossOp::Mse => 1,
        LossOp::SmoothL1 | LossOp::Huber | LossOp::BinaryCrossEntropy => 2,
    }
}

/// The name of PyTorch's CPU kernel, as its dtype errors say it.
fn kernel_name(op: LossOp) -> &'static str {
    match op {
        LossOp::Mse => "mse_cpu",
        LossOp::SmoothL1 => "smooth_l1_cpu",
        LossOp::Huber => "huber_cpu",
        LossOp::BinaryCrossEntropy => "binary_cross_entropy",
    }
}

/// `reduction`, `beta`/`delta` and `weight` from the arguments at `at` on, checked.
fn options(args: &Args, at: usize, op: LossOp) -> Result<LossOptions> {
    let (reduction, param, weight) = match op {
        LossOp::Mse => (args.int_or(at, 1)?, 0.0, None),
        LossOp::SmoothL1 | LossOp::Huber => {
            (args.int_or(at, 1)?, args.float_or(at + 1, 1.0)?, None)
        }
        LossOp::BinaryCrossEntropy => (args.int_or(at + 1, 1)?, 0.0, args.opt_tensor(at)?),
    };
    ensure!(
        (0..=2).contains(&reduction),
        "reduction must be 0 (none), 1 (mean) or 2 (sum), but got {reduction}"
    );
    // NaN passes neither check, as in PyTorch.
    let (beta_ok, delta_ok) = (param >= 0.0, param > 0.0);
    match op {
        LossOp::SmoothL1 => ensure!(
            beta_ok,
            "smooth_l1_loss does not support negative values for beta."
        ),
        LossOp::Huber => ensure!(
            delta_ok,
            "huber_loss does not support non-positive values for delta."
        ),
        _ => {}
    }
    Ok(LossOptions {
        reduction,
        param,
        weight: weight.cloned(),
    })
}

/// The operands broadcast, which must give `x`'s shape (the output is shaped like `x`).
fn fits_input(x: &TensorMeta, others: &[&TensorMeta]) -> Result<()> {
    let mut inputs = vec![Value::Tensor(x)];
    inputs.extend(others.iter().map(|t| Value::Tensor(t)));
    let shape = Pointwise::new(inputs)?.shape;
    ensure!(
        shape == x.sizes,
        "output with shape {} doesn't match the broadcast shape {}",
        fmt_shape(&x.sizes),
        fmt_shape(&shape)
    );
    Ok(())
}

/// The dtype checks of the forward: floating inputs, and for binary cross entropy one dtype
/// (its `out=`'s first, as TensorIterator checks outputs before inputs) and a weight that
/// broadcasts to the input.
fn check_forward(
    op: LossOp,
    x: &TensorMeta,
    target: &TensorMeta,
    o: &LossOptions,
    dest: Dest,
) -> Result<()> {
    let pointwise = Pointwise::new(vec![Value::Tensor(x), Value::Tensor(target)])?;
    let common = pointwise.common_dtype();
    ensure_kernel!(
        common.is_floating(),
        "\"{}\" not implemented for '{}'",
        kernel_name(op),
        common.name()
    );
    match op {
        LossOp::BinaryCrossEntropy => {
            if let Dest::Out(_, out) = dest {
                check_same_dtype(x.dtype, &[out])?;
            }
            check_same_dtype(x.dtype, &[target])?;
            fits_input(x, &[target])?;
            if let Some(w) = &o.weight {
                fits_input(x, &[w])?;
            }
        }
        LossOp::Huber => {
            fits_input(x, &[target])?;
            check_can_cast(common, x.dtype)?;
        }
        LossOp::Mse | LossOp::SmoothL1 => {}
    }
    Ok(())
}

/// The form whose `out=` tensor, if `out`, follows `before` arguments.
fn form(out: bool, before: usize) -> Form {
    if out {
        Form::Out(before as u32)
    } else {
        Form::Functional
    }
}

/// `op(self, target, ...)`, and with `out` its `.out` form.
pub fn forward(args: &Args, cx: &mut Ctx, out: bool, op: LossOp) -> Outputs {
    let form = form(out, 2 + tail_len(op));
    args.at_most(2 + tail_len(op) + form.out_len())?;
    let (x, target) = (args.tensor(0)?, args.tensor(1)?);
    let o = options(args, 2, op)?;
    let dest = form.dest(args)?;
    check_forward(op, x, target, &o, dest)?;
    let run =
        |cx: &mut Ctx, out: &TensorMeta| cx.k.loss(op, x, target, &o, out).map_err(failed("loss"));
    if o.reduction != 0 {
        return reduced(cx, op, [x, target], &o, dest);
    }
    let like_input = matches!(op, LossOp::Huber | LossOp::BinaryCrossEntropy);
    if like_input && matches!(dest, Dest::New) {
        let out = cx.empty_like(x)?;
        run(cx, &out)?;
        return Ok(vec![Output::Tensor(out)]);
    }
    // A binary op's output, as the structured kernels build it.
    let pointwise = Pointwise::new(vec![Value::Tensor(x), Value::Tensor(target)])?;
    let dtype = if op == LossOp::BinaryCrossEntropy {
        x.dtype
    } else {
        pointwise.common_dtype()
    };
    let target_out = pointwise.target(cx, dest, dtype, true)?;
    target_out.run(cx, "loss", |k, out| k.loss(op, x, target, &o, out))
}

/// A reduced loss. MSE and smooth L1 reduce their promoted elementwise loss, the others keep
/// the input's dtype. The CPU computes the elementwise loss in an `out=` (resized to it, with
/// `resize_output`'s warning) or beside it, then reduces it into the `out=` (resized quietly)
/// as `sum_out`/`mean_out` do.
fn reduced(
    cx: &mut Ctx,
    op: LossOp,
    [x, target]: [&TensorMeta; 2],
    o: &LossOptions,
    dest: Dest,
) -> Outputs {
    let pointwise = Pointwise::new(vec![Value::Tensor(x), Value::Tensor(target)])?;
    let dtype = match op {
        LossOp::Mse | LossOp::SmoothL1 => pointwise.common_dtype(),
        _ => x.dtype,
    };
    let (out, result) = match dest {
        Dest::Out(index, given) => {
            check_can_cast(dtype, given.dtype)?;
            if given.sizes != pointwise.shape {
                cx.warn_resized(given, &pointwise.shape)?;
            }
            resize_quietly(cx, index, given, &[])?
        }
        _ => output(cx, dest, &[], dtype)?,
    };
    if out.dtype == dtype {
        cx.k.loss(op, x, target, o, &out).map_err(failed("loss"))?;
        return Ok(vec![result]);
    }
    let elementwise = cx.empty_contiguous(&pointwise.shape, dtype)?;
    let unreduced = LossOptions {
        reduction: 0,
        ..o.clone()
    };
    cx.k.loss(op, x, target, &unreduced, &elementwise)
        .map_err(failed("loss"))?;
    let reduce = if o.reduction == 1 {
        ReduceOp::Mean
    } else {
        ReduceOp::Sum
    };
    let all: Vec<i64> = (0..pointwise.shape.len() as i64).collect();
    reduce_into(cx, reduce, &elementwise, (&all, false), &out)?;
    cx.free(&elementwise);
    Ok(vec![result])
}

/// `op_backward(grad_output, self, target, ...)`, and with `out` its `.grad_input` form: a
/// gradient of `self`'s shape and dtype, contiguous (binary cross entropy keeps `self`'s
/// layout).
pub fn backward(args: &Args, cx: &mut Ctx, out: bool, op: LossOp) -> Outputs {
    let form = form(out, 3 + tail_len(op));
    args.at_most(3 + tail_len(op) + form.out_len())?;
    let (grad, x, target) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let o = options(args, 3, op)?;
    fits_input(x, &[target, grad])?;
    let dest = form.dest(args)?;
    match op {
        // Their kernels promote the three to a common dtype and cast it to the gradient's:
        // `self`'s, or an out='s.
        LossOp::SmoothL1 | LossOp::Mse => {
            let inputs = vec![Value::Tensor(x), Value::Tensor(target), Value::Tensor(grad)];
            let common = Pointwise::new(inputs)?.common_dtype();
            let written = match dest {
                Dest::Out(_, out) => out.dtype,
                _ => x.dtype,
            };
            check_can_cast(common, written)?;
        }
        // TensorIterator checks the out= first, then the inputs, against its first input:
        // the gradient for binary cross entropy, `self` for Huber.
        _ => {
            let (first, rest) = match op {
                LossOp::BinaryCrossEntropy => (grad, [x, target]),
                _ => (x, [target, grad]),
            };
            let mut checked: Vec<&TensorMeta> = match dest {
                Dest::Out(_, out) => vec![out],
                _ => vec![],
            };
            checked.extend(rest);
            check_same_dtype(first.dtype, &checked)?;
        }
    }
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{}_backward\" not implemented for '{}'",
        kernel_name(op),
        x.dtype.name()
    );
    if let Some(w) = &o.weight {
        fits_input(x, &[w])?;
    }
    let target_out = match (op, dest) {
        (LossOp::BinaryCrossEntropy, Dest::New) => Target::new_tensor(cx.empty_like(x)?),
        _ => Target::cast_into(cx, dest, &x.sizes, x.dtype)?,
    };
    target_out.run(cx, "loss_backward", |k, out| {
        k.loss_backward(op, grad, x, target, &o, out)
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, ScalarType};

    #[test]
    fn reductions_give_a_scalar_of_the_input_dtype() {
        let (x, t) = (f32s(&[4, 3], 1), f32s(&[4, 3], 2));
        for reduction in [1, 2] {
            let (res, fake) = run(
                "mse_loss",
                "",
                vec![arg(&x), arg(&t), Arg::Integer(reduction)],
            );
            let out = meta(&res.unwrap(), 0);
            assert_eq!(geometry(&out), (vec![], vec![], 0, ScalarType::Float32));
            assert_eq!(fake.kernels(), vec!["loss"]);
        }
    }

    #[test]
    fn unreduced_losses_broadcast_and_promote_like_binary_ops() {
        let x = f32s(&[4, 1], 1);
        let t = tensor(&[3], ScalarType::Float64, 2);
        let (res, _) = run("mse_loss", "", vec![arg(&x), arg(&t), Arg::Integer(0)]);
        let out = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![4, 3], vec![3, 1], 0, ScalarType::Float64)
        );
        // Huber's output is `empty_like(input)`: the target must fit it.
        let args = vec![arg(&x), arg(&t), Arg::Integer(0), Arg::Float(1.0)];
        let err = run("huber_loss", "", args).0.unwrap_err();
        assert!(
            err.message.contains("doesn't match the broadcast shape"),
            "{}",
            err.message
        );
    }

    #[test]
    fn argument_checks_name_the_op() {
        let (x, t) = (f32s(&[2], 1), f32s(&[2], 2));
        let args = vec![arg(&x), arg(&t), Arg::Integer(1), Arg::Float(-1.0)];
        let err = run("smooth_l1_loss", "", args).0.unwrap_err();
        assert!(err
            .message
            .contains("smooth_l1_loss does not support negative values for beta"));
        let args = vec![arg(&x), arg(&t), Arg::Integer(1), Arg::Float(0.0)];
        let err = run("huber_loss", "", args).0.unwrap_err();
        assert!(err.message.contains("non-positive values for delta"));
        let ints = tensor(&[2], ScalarType::Int64, 3);
        let err = run("mse_loss", "", vec![arg(&ints), arg(&ints)])
            .0
            .unwrap_err();
        assert!(
            err.message
                .contains("\"mse_cpu\" not implemented for 'Long'"),
            "{}",
            err.message
        );
        let err = run("mse_loss", "", vec![arg(&x), arg(&t), Arg::Integer(3)])
            .0
            .unwrap_err();
        assert!(err
            .message
            .contains("reduction must be 0 (none), 1 (mean) or 2 (sum)"));
        let doubles = tensor(&[2], ScalarType::Float64, 4);
        let args = vec![
            arg(&x),
            arg(&doubles),
            Arg::OptionalTensor(None),
            Arg::Integer(1),
        ];
        let err = run("binary_cross_entropy", "", args).0.unwrap_err();
        assert!(err
            .message
            .contains("Found dtype Double but expected Float"));
    }

    #[test]
    fn gradients_are_shaped_like_the_input() {
        let x = tensor(&[2, 3], ScalarType::Float32, 1);
        let t = f32s(&[2, 3], 2);
        let grad = f32s(&[], 3);
        let args = vec![arg(&grad), arg(&x), arg(&t), Arg::Integer(1)];
        let (res, fake) = run("mse_loss_backward", "", args);
        let out = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![2, 3], vec![3, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["loss_backward"]);
        let wrong = f32s(&[5], 4);
        let args = vec![arg(&wrong), arg(&x), arg(&t), Arg::Integer(0)];
        assert!(run("mse_loss_backward", "", args).0.is_err());
    }
}
