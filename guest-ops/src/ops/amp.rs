//! The kernels of `torch.amp.GradScaler`: `_amp_foreach_non_finite_check_and_unscale_` and
//! `_amp_update_scale_`, in place, with the checks of PyTorch's CPU kernels. libtorch runs
//! both on the host.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::Outputs;
use crate::rules::shape::numel;
use crate::types::{LibraryOp, Output, ScalarType, TensorMeta};

/// Each of the scaler's state tensors holds exactly one element, then each has its dtype:
/// (tensor, name, dtype, "a float"/"an int"), checked in the CPU kernel's order and words.
fn check_states(states: &[(&TensorMeta, &str, ScalarType, &str)]) -> Result<()> {
    for (t, name, _, _) in states {
        ensure!(numel(&t.sizes)? == 1, "{name} must be a 1-element tensor.");
    }
    for (t, name, dtype, kind) in states {
        ensure!(t.dtype == *dtype, "{name} must be {kind} tensor.");
    }
    Ok(())
}

/// `_amp_foreach_non_finite_check_and_unscale_(self[], found_inf, inv_scale)`: every
/// gradient in `self` multiplied by `inv_scale`; `found_inf` set to 1 if any held an inf or
/// a NaN.
pub fn unscale(args: &Args, cx: &mut Ctx) -> Outputs {
    const OP: &str = "_amp_foreach_non_finite_check_and_unscale_";
    args.at_most(3)?;
    let (grads, found_inf, inv_scale) = (args.tensor_list(0)?, args.tensor(1)?, args.tensor(2)?);
    // The CPU kernel returns before its checks when there is nothing to unscale.
    if grads.is_empty() {
        return Ok(vec![]);
    }
    check_states(&[
        (inv_scale, "inv_scale", ScalarType::Float32, "a float"),
        (found_inf, "found_inf", ScalarType::Float32, "a float"),
    ])?;
    for g in grads {
        ensure_kernel!(
            g.dtype.is_floating(),
            "\"{OP}\" not implemented for '{}'",
            g.dtype.name()
        );
    }
    let mut inputs = grads.to_vec();
    inputs.extend([found_inf.clone(), inv_scale.clone()]);
    let outs = &inputs[..=grads.len()];
    cx.k.library(LibraryOp::AmpUnscale, &inputs, outs)
        .map_err(failed("library"))?;
    Ok(vec![])
}

/// `_amp_update_scale_(self, growth_tracker, found_inf, scale_growth_factor,
/// scale_backoff_factor, growth_interval)`: the scale backed off after an inf, grown after
/// `growth_interval` clean steps; `growth_tracker` counts them.
pub fn update_scale(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (scale, tracker, found_inf) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check_states(&[
        (tracker, "growth_tracker", ScalarType::Int32, "an int"),
        (scale, "current_scale", ScalarType::Float32, "a float"),
        (found_inf, "found_inf", ScalarType::Float32, "a float"),
    ])?;
    let op =
        LibraryOp::AmpUpdateScale((args.float_or(3, 2.0)?, args.float_or(4, 0.5)?, args.int(5)?));
    let inputs = [scale.clone(), tracker.clone(), found_inf.clone()];
    cx.k.library(op, &inputs, &inputs[..2])
        .map_err(failed("library"))?;
    Ok(vec![Output::Argument(0)])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, run, tensor};
    use crate::types::{Arg, ErrorKind, Output, ScalarType};

    #[test]
    fn unscale_writes_every_gradient_and_the_flag() {
        let (g1, g2) = (f32s(&[3, 2], 1), f32s(&[4], 2));
        let (found, inv) = (f32s(&[1], 3), f32s(&[], 4));
        let args = vec![Arg::TensorList(vec![g1, g2]), arg(&found), arg(&inv)];
        let (res, fake) = run("_amp_foreach_non_finite_check_and_unscale_", "", args);
        assert_eq!(res.unwrap(), vec![]);
        assert_eq!(fake.kernels(), vec!["library"]);
        assert_eq!(fake.allocated, vec![]);
    }

    #[test]
    fn scaler_state_must_be_one_float_element() {
        let g = f32s(&[3], 1);
        let two = f32s(&[2], 3);
        let args = vec![
            Arg::TensorList(vec![g.clone()]),
            arg(&two),
            arg(&f32s(&[1], 4)),
        ];
        let (res, _) = run("_amp_foreach_non_finite_check_and_unscale_", "", args);
        let err = res.unwrap_err();
        assert!(
            err.message.contains("found_inf must be a 1-element tensor"),
            "{err:?}"
        );
        let long = tensor(&[1], ScalarType::Int64, 5);
        let args = vec![Arg::TensorList(vec![g]), arg(&f32s(&[1], 3)), arg(&long)];
        let (res, _) = run("_amp_foreach_non_finite_check_and_unscale_", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("inv_scale must be a float tensor"));
    }

    #[test]
    fn integer_gradients_are_refused() {
        let g = tensor(&[3], ScalarType::Int64, 1);
        let args = vec![
            Arg::TensorList(vec![g]),
            arg(&f32s(&[1], 3)),
            arg(&f32s(&[1], 4)),
        ];
        let (res, _) = run("_amp_foreach_non_finite_check_and_unscale_", "", args);
        // PyTorch's dispatch macros raise NotImplementedError for a dtype without a kernel.
        assert_eq!(res.unwrap_err().kind, ErrorKind::NotImplemented);
    }

    #[test]
    fn update_scale_returns_the_scale_in_place() {
        let (scale, found) = (f32s(&[], 1), f32s(&[1], 3));
        let tracker = tensor(&[1], ScalarType::Int32, 2);
        let mut args = vec![arg(&scale), arg(&tracker), arg(&found)];
        args.extend([Arg::Float(2.0), Arg::Float(0.5), Arg::Integer(2000)]);
        let (res, fake) = run("_amp_update_scale_", "", args.clone());
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.kernels(), vec!["library"]);
        args[1] = arg(&tensor(&[1], ScalarType::Int64, 2));
        let (res, _) = run("_amp_update_scale_", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("growth_tracker must be an int tensor"));
    }
}
