//! Fused optimizer steps: `_fused_adam_` and `_fused_adamw_` (`torch.optim.Adam(fused=True)`
//! and AdamW's), in place over lists of parameters and their state, with the checks of
//! PyTorch's kernels. The host's libtorch computes the update.

use crate::error::{ensure, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::shape::numel;
use crate::types::{AdamParams, LibraryOp, ScalarType, TensorMeta};

/// The state list `name` at `i`, as long as `params` (or empty when `optional`).
fn state<'a>(args: &Args<'a>, i: usize, name: &str, n: usize) -> Result<&'a [TensorMeta]> {
    let list = args.tensor_list(i)?;
    ensure!(
        list.len() == n,
        "_fused_adam: expected {n} tensors in {name}, one per parameter, but got {}",
        list.len()
    );
    Ok(list)
}

/// Each parameter's state has its shape and dtype; steps are single float32 elements.
fn check_each(lists: &[&[TensorMeta]], steps: &[TensorMeta]) -> Result<()> {
    for (i, param) in lists[0].iter().enumerate() {
        ensure!(
            param.dtype.is_floating(),
            "_fused_adam: parameters must be floating point, but parameter {i} is {}",
            param.describe()
        );
        for t in lists[1..].iter().map(|list| &list[i]) {
            ensure!(
                t.sizes == param.sizes && t.dtype == param.dtype,
                "_fused_adam: the gradient and state of parameter {i} ({}) must have its shape \
                 and dtype, but got {}",
                param.describe(),
                t.describe()
            );
        }
        ensure!(
            numel(&steps[i].sizes)? == 1 && steps[i].dtype == ScalarType::Float32,
            "_fused_adam: state_steps must hold one float32 element each, but step {i} is {}",
            steps[i].describe()
        );
    }
    Ok(())
}

/// An optional one-element float32 tensor: `grad_scale`, `found_inf` or a tensor `lr`.
fn check_scalar(t: Option<&TensorMeta>, name: &str) -> Result<()> {
    if let Some(t) = t {
        ensure!(
            numel(&t.sizes)? == 1 && t.dtype.is_floating(),
            "_fused_adam: {name} must be a one-element floating tensor, but got {}",
            t.describe()
        );
    }
    Ok(())
}

/// `_fused_adam_` (`decoupled` false) or `_fused_adamw_`, with a float `lr` or, for the
/// `tensor_lr` overload, a tensor one.
pub fn step(args: &Args, cx: &mut Ctx, decoupled: bool, tensor_lr: bool) -> Outputs {
    args.at_most(15)?;
    let params = args.tensor_list(0)?;
    let n = params.len();
    let amsgrad = args.bool_or(11, false)?;
    let max_sqs = state(args, 4, "max_exp_avg_sqs", if amsgrad { n } else { 0 })?;
    let mut lists = vec![params];
    for (i, name) in [(1, "grads"), (2, "exp_avgs"), (3, "exp_avg_sqs")] {
        lists.push(state(args, i, name, n)?);
    }
    if amsgrad {
        lists.push(max_sqs);
    }
    let steps = state(args, 5, "state_steps", n)?;
    check_each(&lists, steps)?;
    let (grad_scale, found_inf) = (args.opt_tensor(13)?, args.opt_tensor(14)?);
    let lr_tensor = if tensor_lr {
        Some(args.tensor(6)?)
    } else {
        None
    };
    for (t, name) in [
        (grad_scale, "grad_scale"),
        (found_inf, "found_inf"),
        (lr_tensor, "lr"),
    ] {
        check_scalar(t, name)?;
    }
    let hyper = AdamParams {
        lr: if tensor_lr {
            None
        } else {
            Some(args.float_or(6, 1e-3)?)
        },
        beta1: args.float_or(7, 0.9)?,
        beta2: args.float_or(8, 0.999)?,
        weight_decay: args.float_or(9, 0.0)?,
        eps: args.float_or(10, 1e-8)?,
        amsgrad,
        maximize: args.bool_or(12, false)?,
        decoupled,
        grad_scale: grad_scale.is_some(),
        found_inf: found_inf.is_some(),
    };
    if n == 0 {
        return Ok(vec![]);
    }
    let outs: Vec<TensorMeta> = lists.iter().flat_map(|l| l.iter().cloned()).collect();
    let mut inputs = outs.clone();
    inputs.extend(steps.iter().cloned());
    inputs.extend(
        [grad_scale, found_inf, lr_tensor]
            .into_iter()
            .flatten()
            .cloned(),
    );
    cx.k.library(LibraryOp::FusedAdam(hyper), &inputs, &outs)
        .map_err(failed("library"))?;
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, run, tensor};
    use crate::types::{Arg, ScalarType};

    fn adam_args(amsgrad: bool, steps: Vec<crate::types::TensorMeta>) -> Vec<Arg> {
        let (w, b) = (f32s(&[2, 3], 1), f32s(&[3], 2));
        let list = |base: u64| Arg::TensorList(vec![f32s(&[2, 3], base), f32s(&[3], base + 1)]);
        let max = if amsgrad {
            list(40)
        } else {
            Arg::TensorList(vec![])
        };
        let mut args = vec![
            Arg::TensorList(vec![w, b]),
            list(10),
            list(20),
            list(30),
            max,
        ];
        args.push(Arg::TensorList(steps));
        args.extend([0.01, 0.9, 0.999, 0.0, 1e-8].map(Arg::Float));
        args.extend([
            Arg::Boolean(amsgrad),
            Arg::Boolean(false),
            Arg::None,
            Arg::None,
        ]);
        args
    }

    #[test]
    fn one_library_call_updates_every_list_in_place() {
        for amsgrad in [false, true] {
            let steps = vec![f32s(&[], 50), f32s(&[], 51)];
            let (res, fake) = run("_fused_adamw_", "", adam_args(amsgrad, steps));
            assert_eq!(res.unwrap(), vec![]);
            assert_eq!(fake.kernels(), vec!["library"]);
            assert_eq!(fake.calls[0].tensors.len(), if amsgrad { 22 } else { 18 });
            assert!(fake.allocated.is_empty());
        }
    }

    #[test]
    fn mismatched_state_is_refused() {
        let steps = vec![f32s(&[], 50)];
        let err = run("_fused_adam_", "", adam_args(false, steps))
            .0
            .unwrap_err();
        assert!(
            err.message.contains("2 tensors in state_steps"),
            "{}",
            err.message
        );
        let steps = vec![f32s(&[], 50), tensor(&[], ScalarType::Int64, 51)];
        let err = run("_fused_adam_", "", adam_args(false, steps))
            .0
            .unwrap_err();
        assert!(
            err.message.contains("one float32 element"),
            "{}",
            err.message
        );
        let mut args = adam_args(false, vec![f32s(&[], 50), f32s(&[], 51)]);
        args[2] = Arg::TensorList(vec![f32s(&[3, 2], 20), f32s(&[3], 21)]);
        let err = run("_fused_adam_", "", args).0.unwrap_err();
        assert!(
            err.message.contains("must have its shape"),
            "{}",
            err.message
        );
        let mut args = adam_args(false, vec![f32s(&[], 50), f32s(&[], 51)]);
        args[13] = arg(&f32s(&[2], 60));
        let err = run("_fused_adam_", "", args).0.unwrap_err();
        assert!(
            err.message.contains("grad_scale must be"),
            "{}",
            err.message
        );
    }
}
