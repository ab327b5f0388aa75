//! `nll_loss_forward` and `nll_loss_backward`, and their spatial forms `nll_loss2d_*`
//! (`[N, C, H, W]` scores, `[N, H, W]` targets).

use crate::error::{ensure, ensure_index, ensure_kernel, ensure_value, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::tensor_arg::check_dim_size;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::check_scalar_type;
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{ScalarType, TensorMeta};

/// The arguments both directions share: `self, target, weight, reduction, ignore_index`.
struct Nll<'a> {
    x: &'a TensorMeta,
    target: &'a TensorMeta,
    weight: Option<&'a TensorMeta>,
    reduction: i64,
    ignore_index: i64,
    spatial: bool,
    /// For `nll_loss*_backward`.
    backward: bool,
}

impl<'a> Nll<'a> {
    /// Reads the shared arguments, with `nll_loss`'s checks; a backward's start after its grad.
    fn parse(args: &Args<'a>, spatial: bool, backward: bool) -> Result<Self> {
        let at = usize::from(backward);
        let nll = Nll {
            spatial,
            backward,
            x: args.tensor(at)?,
            target: args.tensor(at + 1)?,
            weight: args.opt_tensor(at + 2)?,
            reduction: args.int(at + 3)?,
            ignore_index: args.int(at + 4)?,
        };
        nll.check()?;
        Ok(nll)
    }

    /// The CPU kernel that names an unsupported dtype.
    fn kernel(&self) -> &'static str {
        match (self.spatial, self.backward) {
            (false, false) => "nll_loss_out_frame",
            (false, true) => "nll_loss_backward_out_frame",
            (true, false) => "nll_loss2d_forward_out_frame",
            (true, true) => "nll_loss2d_backward_out_frame",
        }
    }

    /// `check_inputs_nll_loss2d`: the ranks, the weight by its element count alone, then
    /// the sizes (the CPU's message, unclosed parenthesis included).
    fn check_spatial(&self) -> Result<()> {
        let (x, target) = (self.x, self.target);
        ensure!(
            target.dim() == 3,
            "only batches of spatial targets supported (3D tensors) but got targets of \
             dimension: {}",
            target.dim()
        );
        ensure!(
            x.dim() == 4,
            "only batches of spatial inputs supported (4D tensors), but got input of \
             dimension: {}",
            x.dim()
        );
        ensure!(
            self.weight
                .is_none_or(|w| numel(&w.sizes).is_ok_and(|n| n == x.sizes[1])),
            "weight tensor should be defined either for all or no classes"
        );
        ensure!(
            x.sizes[0] == target.sizes[0] && x.sizes[2..] == target.sizes[1..],
            "size mismatch (got input: {} , target: {}",
            fmt_shape(&x.sizes),
            fmt_shape(&target.sizes)
        );
        Ok(())
    }

    fn check_flat(&self) -> Result<()> {
        let (x, target) = (self.x, self.target);
        ensure!(
            x.dim() == 1 || x.dim() == 2,
            "input tensor should be 1D or 2D"
        );
        ensure!(
            target.dim() <= 1,
            "0D or 1D target tensor expected, multi-target not supported"
        );
        // The forward takes one target for an unbatched input; the backward does not.
        if !self.backward && x.dim() == 1 && target.dim() == 1 {
            ensure_value!(
                target.sizes[0] == 1,
                "For 1D input, 1D target must have size 1, but got target size: {}",
                target.sizes[0]
            );
            return Ok(());
        }
        if x.dim() == 1 && target.dim() == 0 {
            return Ok(());
        }
        // `target.size(0)` of a 0-d target.
        ensure_index!(
            target.dim() == 1,
            "Dimension specified as 0 but tensor has no dimensions"
        );
        ensure!(
            x.sizes[0] == target.sizes[0],
            "size mismatch (got input: {}, target: {})",
            fmt_shape(&x.sizes),
            fmt_shape(&target.sizes)
        );
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let x = self.x;
        if self.spatial {
            self.check_spatial()?;
        } else {
            self.check_flat()?;
        }
        let classes = x.sizes[if self.spatial { 1 } else { x.dim() - 1 }];
        let target = self.target;
        if let Some(w) = self.weight {
            ensure!(
                self.spatial || (w.dim() == 1 && w.sizes[0] == classes),
                "weight tensor should be defined either for all {classes} classes or no classes \
                 but got weight tensor of shape: {}",
                fmt_shape(&w.sizes)
            );
        }
        ensure!(
            matches!(target.dtype, ScalarType::Int64 | ScalarType::Uint8),
            "expected target dtype to be Long or Byte, but got {}",
            target.dtype.name()
        );
        ensure_kernel!(
            x.dtype.is_floating(),
            "\"{}\" not implemented for '{}'",
            self.kernel(),
            x.dtype.name()
        );
        if let Some(w) = self.weight {
            check_scalar_type(x.dtype, w.dtype)?;
        }
        if self.spatial {
            // The spatial kernels read the target as int64 alone.
            check_scalar_type(ScalarType::Int64, target.dtype)?;
        }
        ensure!(
            (0..=2).contains(&self.reduction),
            "reduction must be 0 (none), 1 (mean) or 2 (sum), but got {}",
            self.reduction
        );
        Ok(())
    }

    /// The shape of the unreduced loss: one per row of a 2-d input, one per target element
    /// of a spatial one; none when reduced (or for a single 1-d input).
    fn unreduced(&self) -> Option<Vec<i64>> {
        match (self.reduction, self.spatial, self.x.dim()) {
            (0, true, _) => Some(self.target.sizes.clone()),
            (0, false, 2) => Some(vec![self.x.sizes[0]]),
            _ => None,
        }
    }
}

/// `nll_loss_forward(self, target, weight, reduction, ignore_index)` and its `.output` form:
/// the loss and the 0-dim total weight.
pub fn forward(args: &Args, cx: &mut Ctx, form: Form, spatial: bool) -> Outputs {
    let outs = matches!(form, Form::Out(_));
    args.at_most(if outs { 7 } else { 5 })?;
    let nll = Nll::parse(args, spatial, false)?;
    let shape = nll.unreduced().unwrap_or_default();
    let (loss_dest, weight_dest) = if outs {
        (Dest::Out(5, args.tensor(5)?), Dest::Out(6, args.tensor(6)?))
    } else {
        (Dest::New, Dest::New)
    };
    let (loss, loss_out) = output(cx, loss_dest, &shape, nll.x.dtype)?;
    let (total, total_out) = output(cx, weight_dest, &[], nll.x.dtype)?;
    cx.k.nll_loss(
        nll.x,
        nll.target,
        nll.weight,
        nll.reduction,
        nll.ignore_index,
        &loss,
        &total,
    )
    .map_err(failed("nll_loss"))?;
    Ok(vec![loss_out, total_out])
}

/// `nll_loss_backward(grad_output, self, target, weight, reduction, ignore_index,
/// total_weight)` and its `.grad_input` form.
pub fn backward(args: &Args, cx: &mut Ctx, form: Form, spatial: bool) -> Outputs {
    args.at_most(7 + form.out_len())?;
    let grad = args.tensor(0)?;
    let nll = Nll::parse(args, spatial, true)?;
    let total = args.tensor(6)?;
    let total_numel = numel(&total.sizes)?;
    ensure!(
        total_numel == 1,
        "expected total_weight to be a single element tensor, got: {} ({total_numel} elements)",
        fmt_shape(&total.sizes)
    );
    match nll.unreduced() {
        Some(shape) if !nll.spatial => check_dim_size(grad, 1, 0, shape[0])?,
        Some(shape) => ensure!(
            grad.sizes == shape,
            "grad_output must have the shape of the unreduced loss {}, but got {}",
            fmt_shape(&shape),
            fmt_shape(&grad.sizes)
        ),
        None => ensure!(
            grad.dim() <= 1 && numel(&grad.sizes)? == 1,
            "Expected a single element grad_output tensor, but got: {}",
            fmt_shape(&grad.sizes)
        ),
    }
    let (out, outputs) = output(cx, form.dest(args)?, &nll.x.sizes, nll.x.dtype)?;
    cx.k.nll_loss_backward(
        grad,
        nll.x,
        nll.target,
        nll.weight,
        nll.reduction,
        nll.ignore_index,
        total,
        &out,
    )
    .map_err(failed("nll_loss_backward"))?;
    Ok(vec![outputs])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    fn forward_args(x: &crate::types::TensorMeta, target: &[i64], reduction: i64) -> Vec<Arg> {
        let t = tensor(target, ScalarType::Int64, 9);
        vec![
            arg(x),
            arg(&t),
            Arg::OptionalTensor(None),
            Arg::Integer(reduction),
            Arg::Integer(-100),
        ]
    }

    #[test]
    fn forward_shapes() {
        let x = f32s(&[3, 4], 1);
        let (res, fake) = run("nll_loss_forward", "", forward_args(&x, &[3], 0));
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![3]);
        assert_eq!(
            geometry(&meta(&outputs, 1)),
            (vec![], vec![], 0, ScalarType::Float32)
        );
        assert_eq!(fake.calls[0].detail, "0 -100");
        let (res, _) = run("nll_loss_forward", "", forward_args(&x, &[3], 1));
        assert!(meta(&res.unwrap(), 0).sizes.is_empty());
        let (res, _) = run("nll_loss_forward", "", forward_args(&f32s(&[4], 2), &[], 0));
        assert!(meta(&res.unwrap(), 0).sizes.is_empty());
        let mut args = forward_args(&x, &[3], 1);
        args.extend([arg(&f32s(&[5], 3)), arg(&f32s(&[], 4))]);
        let (res, _) = run("nll_loss_forward", "output", args);
        let outputs = res.unwrap();
        assert!(matches!(&outputs[0], Output::Updated((5, t)) if t.sizes.is_empty()));
        assert_eq!(outputs[1], Output::Argument(6));
    }

    #[test]
    fn forward_checks() {
        let x = f32s(&[3, 4], 1);
        let (res, _) = run("nll_loss_forward", "", forward_args(&x, &[2], 1));
        assert!(res
            .unwrap_err()
            .message
            .contains("size mismatch (got input: [3, 4], target: [2])"));
        let (res, _) = run(
            "nll_loss_forward",
            "",
            forward_args(&f32s(&[2, 3, 4], 1), &[2], 1),
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("input tensor should be 1D or 2D"));
        let (res, _) = run("nll_loss_forward", "", forward_args(&x, &[3, 3], 1));
        assert!(res
            .unwrap_err()
            .message
            .contains("0D or 1D target tensor expected"));
        let mut args = forward_args(&x, &[3], 1);
        args[2] = Arg::OptionalTensor(Some(f32s(&[3], 5)));
        let (res, _) = run("nll_loss_forward", "", args);
        assert!(res.unwrap_err().message.contains(
            "weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: [3]"
        ));
        let mut args = forward_args(&x, &[3], 1);
        args[1] = arg(&tensor(&[3], ScalarType::Int32, 6));
        let (res, _) = run("nll_loss_forward", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("expected target dtype to be Long or Byte, but got Int"));
        let (res, _) = run("nll_loss_forward", "", forward_args(&x, &[3], 3));
        assert!(res.is_err());
    }

    #[test]
    fn backward_checks_grad_and_total_weight() {
        let x = f32s(&[3, 4], 1);
        let with = |grad: &[i64], total: &[i64], reduction: i64| {
            let mut args = vec![arg(&f32s(grad, 2))];
            args.extend(forward_args(&x, &[3], reduction));
            args.push(arg(&f32s(total, 3)));
            run("nll_loss_backward", "", args).0
        };
        let out = meta(&with(&[], &[], 1).unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![3, 4], vec![4, 1], 0, ScalarType::Float32)
        );
        assert!(with(&[3], &[], 0).is_ok());
        assert!(with(&[2], &[], 0).unwrap_err().message.contains(
            "Expected a tensor of dimension 1 and tensor.size[0] == 3 but got: dimension 1 and tensor.size[0] = 2"
        ));
        assert!(with(&[2], &[], 1)
            .unwrap_err()
            .message
            .contains("Expected a single element grad_output tensor, but got: [2]"));
        assert!(with(&[], &[2], 1).unwrap_err().message.contains(
            "expected total_weight to be a single element tensor, got: [2] (2 elements)"
        ));
    }
}
