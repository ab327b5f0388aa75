//! Fused optimizer steps: `_fused_adam_`, `_fused_adamw_`, `_fused_sgd_` and
//! `_fused_adagrad_` (`torch.optim.Adam(fused=True)` and the others'), in place over lists of
//! parameters and their state, with the checks of PyTorch's kernels. The host's libtorch
//! computes the update.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::shape::numel;
use crate::types::{AdagradParams, AdamParams, LibraryOp, ScalarType, SgdParams, TensorMeta};

/// One fused step's tensors as the op was given them.
struct Step<'a> {
    op: &'static str,
    /// The parameters, then their gradients and state, each list as long as the parameters.
    lists: Vec<&'a [TensorMeta]>,
    /// One float32 step count per parameter (none for SGD).
    steps: &'a [TensorMeta],
    /// `grad_scale`, `found_inf` and a tensor `lr`, where given.
    extras: Vec<&'a TensorMeta>,
}

impl<'a> Step<'a> {
    /// The lists at `lists` (named) and the step counts at `steps`, of the op at `op`.
    fn new(
        op: &'static str,
        args: &Args<'a>,
        lists: &[(usize, &str)],
        steps: Option<usize>,
    ) -> Result<Self> {
        let n = args.tensor_list(0)?.len();
        let mut step = Self {
            op,
            lists: vec![args.tensor_list(0)?],
            steps: &[],
            extras: vec![],
        };
        for &(i, name) in lists {
            step.lists.push(step.list(args, i, name, n)?);
        }
        if let Some(i) = steps {
            step.steps = step.list(args, i, "state_steps", n)?;
        }
        step.check_each()?;
        Ok(step)
    }

    /// The list `name` at `i`, which must be as long as the parameters.
    fn list(&self, args: &Args<'a>, i: usize, name: &str, n: usize) -> Result<&'a [TensorMeta]> {
        let list = args.tensor_list(i)?;
        ensure!(
            list.len() == n,
            "{}: expected {n} tensors in {name}, one per parameter, but got {}",
            self.op,
            list.len()
        );
        Ok(list)
    }

    /// The CPU kernel, which names itself where it refuses a dtype (AdamW shares Adam's).
    fn kernel(&self) -> &'static str {
        match self.op {
            "_fused_sgd_" => "fused_sgd_kernel",
            "_fused_adagrad_" => "fused_adagrad_kernel",
            _ => "fused_adam_kernel",
        }
    }

    /// Each parameter's state has its shape and dtype; steps are single float32 elements.
    fn check_each(&self) -> Result<()> {
        let op = self.op;
        for (i, param) in self.lists[0].iter().enumerate() {
            ensure_kernel!(
                param.dtype.is_floating(),
                "\"{}\" not implemented for '{}'",
                self.kernel(),
                param.dtype.name()
            );
            for t in self.lists[1..].iter().map(|list| &list[i]) {
                ensure!(
                    t.sizes == param.sizes && t.dtype == param.dtype,
                    "{op}: the gradient and state of parameter {i} ({}) must have its shape \
                     and dtype, but got {}",
                    param.describe(),
                    t.describe()
                );
            }
            if let Some(step) = self.steps.get(i) {
                ensure!(
                    numel(&step.sizes)? == 1 && step.dtype == ScalarType::Float32,
                    "{op}: state_steps must hold one float32 element each, but step {i} is {}",
                    step.describe()
                );
            }
        }
        Ok(())
    }

    /// Adds the optional one-element float tensor `name` at `i` (`grad_scale`, `found_inf`
    /// or a tensor `lr`) to the inputs; whether it was given.
    fn extra(&mut self, args: &Args<'a>, i: usize, name: &str) -> Result<bool> {
        let Some(t) = args.opt_tensor(i)? else {
            return Ok(false);
        };
        ensure!(
            numel(&t.sizes)? == 1 && t.dtype.is_floating(),
            "{}: {name} must be a one-element floating tensor, but got {}",
            self.op,
            t.describe()
        );
        self.extras.push(t);
        Ok(true)
    }

    /// `grad_scale` at `i` and `found_inf` after it: whether each was given.
    fn scaling(&mut self, args: &Args<'a>, i: usize) -> Result<(bool, bool)> {
        Ok((
            self.extra(args, i, "grad_scale")?,
            self.extra(args, i + 1, "found_inf")?,
        ))
    }

    /// The float `lr` at `i`, or none when the `tensor_lr` overload gives it as a tensor
    /// (added to the inputs last).
    fn lr(&mut self, args: &Args<'a>, i: usize, tensor_lr: bool) -> Result<Option<f64>> {
        if !tensor_lr {
            return args.float_or(i, 1e-3).map(Some);
        }
        self.extra(args, i, "lr")?;
        Ok(None)
    }

    /// The one library call updating every list in place.
    fn launch(self, cx: &mut Ctx, op: LibraryOp) -> Outputs {
        if self.lists[0].is_empty() {
            return Ok(vec![]);
        }
        let outs: Vec<TensorMeta> = self.lists.iter().flat_map(|l| l.iter().cloned()).collect();
        let mut inputs = outs.clone();
        inputs.extend(self.steps.iter().cloned());
        inputs.extend(self.extras.into_iter().cloned());
        cx.k.library(op, &inputs, &outs)
            .map_err(failed("library"))?;
        Ok(vec![])
    }
}

/// `_fused_adam_` (`decoupled` false) or `_fused_adamw_`, with a float `lr` or, for the
/// `tensor_lr` overload, a tensor one.
pub fn adam(args: &Args, cx: &mut Ctx, decoupled: bool, tensor_lr: bool) -> Outputs {
    args.at_most(15)?;
    let op = if decoupled {
        "_fused_adamw_"
    } else {
        "_fused_adam_"
    };
    let amsgrad = args.bool_or(11, false)?;
    let mut lists = vec![(1, "grads"), (2, "exp_avgs"), (3, "exp_avg_sqs")];
    if amsgrad {
        lists.push((4, "max_exp_avg_sqs"));
    } else {
        ensure!(
            args.tensor_list(4)?.is_empty(),
            "{op}: max_exp_avg_sqs must be empty without amsgrad"
        );
    }
    let mut step = Step::new(op, args, &lists, Some(5))?;
    let (grad_scale, found_inf) = step.scaling(args, 13)?;
    let hyper = AdamParams {
        lr: step.lr(args, 6, tensor_lr)?,
        beta1: args.float_or(7, 0.9)?,
        beta2: args.float_or(8, 0.999)?,
        weight_decay: args.float_or(9, 0.0)?,
        eps: args.float_or(10, 1e-8)?,
        amsgrad,
        maximize: args.bool_or(12, false)?,
        decoupled,
        grad_scale,
        found_inf,
    };
    step.launch(cx, LibraryOp::FusedAdam(hyper))
}

/// `_fused_sgd_`, with a float `lr` or, for the `tensor_lr` overload, a tensor one. A zero
/// momentum takes no momentum buffers.
pub fn sgd(args: &Args, cx: &mut Ctx, tensor_lr: bool) -> Outputs {
    args.at_most(12)?;
    let momentum = args.float_or(4, 0.0)?;
    let buffers = [(2, "momentum_buffer_list")];
    let lists: &[(usize, &str)] = if momentum == 0.0 { &[] } else { &buffers };
    if momentum == 0.0 {
        ensure!(
            args.tensor_list(2)?.is_empty(),
            "_fused_sgd_: momentum_buffer_list must be empty when momentum is 0"
        );
    }
    let mut step = Step::new(
        "_fused_sgd_",
        args,
        &[&[(1, "grads")], lists].concat(),
        None,
    )?;
    let (grad_scale, found_inf) = step.scaling(args, 10)?;
    let hyper = SgdParams {
        lr: step.lr(args, 5, tensor_lr)?,
        weight_decay: args.float_or(3, 0.0)?,
        momentum,
        dampening: args.float_or(6, 0.0)?,
        nesterov: args.bool_or(7, false)?,
        maximize: args.bool_or(8, false)?,
        is_first_step: args.bool_or(9, false)?,
        grad_scale,
        found_inf,
    };
    step.launch(cx, LibraryOp::FusedSgd(hyper))
}

/// `_fused_adagrad_`, with a float `lr` or, for the `tensor_lr` overload, a tensor one.
pub fn adagrad(args: &Args, cx: &mut Ctx, tensor_lr: bool) -> Outputs {
    args.at_most(11)?;
    let lists = [(1, "grads"), (2, "state_sums")];
    let mut step = Step::new("_fused_adagrad_", args, &lists, Some(3))?;
    let (grad_scale, found_inf) = step.scaling(args, 9)?;
    let hyper = AdagradParams {
        lr: step.lr(args, 4, tensor_lr)?,
        lr_decay: args.float_or(5, 0.0)?,
        weight_decay: args.float_or(6, 0.0)?,
        eps: args.float_or(7, 1e-10)?,
        maximize: args.bool_or(8, false)?,
        grad_scale,
        found_inf,
    };
    step.launch(cx, LibraryOp::FusedAdagrad(hyper))
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
