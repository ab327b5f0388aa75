//! The margin losses the host's libtorch computes whole: `multi_margin_loss` (one class per
//! sample) and `multilabel_margin_loss_forward` (a `-1`-terminated list of classes per sample),
//! with their backwards. Their checks, shapes and dtypes are here.

use crate::error::{ensure, ensure_kernel, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::run;
use crate::ops::Outputs;
use crate::rules::dtype::check_scalar_type;
use crate::rules::shape::{fmt_shape, numel};
use crate::types::{LibraryOp, Output, Scalar, ScalarType, TensorMeta};

/// A sample, or a batch of them with at least one class.
fn check_samples(x: &TensorMeta) -> Result<()> {
    let nd = x.dim();
    ensure!(
        (nd == 2 && x.sizes[1] != 0) || (nd == 1 && x.sizes[0] != 0) || nd == 0,
        "Expected non-empty vector or matrix with optional 0-dim batch size, but got: {}",
        fmt_shape(&x.sizes)
    );
    Ok(())
}

/// Float or double scores (else `kernel`, as PyTorch names it, is not implemented) and
/// int64 classes.
fn check_dtypes(x: &TensorMeta, target: &TensorMeta, kernel: &str) -> Result<()> {
    ensure_kernel!(
        matches!(x.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    ensure!(
        target.dtype == ScalarType::Int64,
        "expected scalar type Long but found {}",
        target.dtype.name()
    );
    Ok(())
}

/// The checks of `multi_margin_loss` and its backward; returns the samples in a batch.
fn check_multi_margin(
    x: &TensorMeta,
    target: &TensorMeta,
    p: i64,
    weight: Option<&TensorMeta>,
) -> Result<i64> {
    ensure!(p == 1 || p == 2, "only p == 1 and p == 2 supported");
    let nd = x.dim();
    check_samples(x)?;
    let frames = if nd <= 1 { 1 } else { x.sizes[0] };
    let classes = if nd == 0 { 1 } else { x.sizes[nd - 1] };
    ensure!(
        target.dim() <= 1 && numel(&target.sizes)? == frames,
        "multi_margin_loss: target tensor should be 1-D with size equal to the number of input \
         samples (batch size). Expected target size [{frames}], but got {}. Input has shape {}.",
        fmt_shape(&target.sizes),
        fmt_shape(&x.sizes)
    );
    if let Some(w) = weight {
        ensure!(
            w.dim() <= 1 && numel(&w.sizes)? == classes,
            "inconsistent weight size, expected {classes} but got {}",
            fmt_shape(&w.sizes)
        );
    }
    check_dtypes(x, target, "multi_margin_loss_cpu_kernel")?;
    if let Some(w) = weight {
        check_scalar_type(x.dtype, w.dtype)?;
    }
    Ok(frames)
}

fn int_scalar(args: &Args, i: usize, default: i64) -> Result<i64> {
    Ok(match args.scalar_or(i, Scalar::Integer(default))? {
        Scalar::Integer(v) => v,
        Scalar::Float(v) => v as i64,
        Scalar::Boolean(v) => i64::from(v),
        Scalar::Complex((re, _)) => re as i64,
    })
}

fn float_scalar(args: &Args, i: usize, default: f64) -> Result<f64> {
    Ok(args.scalar_or(i, Scalar::Float(default))?.to_f64())
}

/// `multi_margin_loss(self, target, p=1, margin=1, weight=None, reduction=Mean)`: per sample
/// (`[N]` without reduction when `target` has a dim), else a 0-dim total.
pub fn multi_margin_loss(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (x, target) = (args.tensor(0)?, args.tensor(1)?);
    let (p, margin) = (int_scalar(args, 2, 1)?, float_scalar(args, 3, 1.0)?);
    let weight = args.opt_tensor(4)?;
    let reduction = args.int_or(5, 1)?;
    let frames = check_multi_margin(x, target, p, weight)?;
    let shape: &[i64] = if reduction == 0 && target.dim() > 0 {
        &[frames]
    } else {
        &[]
    };
    let out = cx.empty_contiguous(shape, x.dtype)?;
    let mut inputs = vec![x.clone(), target.clone()];
    inputs.extend(weight.cloned());
    let op = LibraryOp::MultiMarginLoss((p, margin, reduction));
    run(cx, op, &inputs, out.clone(), Output::Tensor(out))
}

/// `multi_margin_loss_backward(grad_output, self, target, p, margin, weight=None,
/// reduction=Mean)`: the gradient by `self`, contiguous.
pub fn multi_margin_loss_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (grad, x, target) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (p, margin) = (int_scalar(args, 3, 1)?, float_scalar(args, 4, 1.0)?);
    let weight = args.opt_tensor(5)?;
    let reduction = args.int_or(6, 1)?;
    check_multi_margin(x, target, p, weight)?;
    let out = cx.empty_contiguous(&x.sizes, x.dtype)?;
    let mut inputs = vec![grad.clone(), x.clone(), target.clone()];
    inputs.extend(weight.cloned());
    let op = LibraryOp::MultiMarginLossBackward((p, margin, reduction));
    run(cx, op, &inputs, out.clone(), Output::Tensor(out))
}

/// The checks `multilabel_margin_loss_forward` and its backward share; returns the samples
/// in a batch.
fn check_multilabel_margin(x: &TensorMeta, target: &TensorMeta) -> Result<i64> {
    let nd = x.dim();
    check_samples(x)?;
    let fits = if nd <= 1 {
        target.dim() <= 1 && numel(&target.sizes)? == numel(&x.sizes)?
    } else {
        target.sizes == x.sizes
    };
    ensure!(
        fits,
        "inconsistent target size: {} for input of size: {}",
        fmt_shape(&target.sizes),
        fmt_shape(&x.sizes)
    );
    check_dtypes(x, target, "multilabel_margin_loss_forward_out_frame")?;
    Ok(if nd <= 1 { 1 } else { x.sizes[0] })
}

/// `multilabel_margin_loss_forward(self, target, reduction)`: the loss (per sample for a
/// batch without reduction, else 0-dim) and `is_target`, 1 at each sample's target classes,
/// shaped like `target`; both contiguous in `self`'s dtype.
pub fn multilabel_margin_loss(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (x, target) = (args.tensor(0)?, args.tensor(1)?);
    let reduction = args.int(2)?;
    let frames = check_multilabel_margin(x, target)?;
    let shape: &[i64] = if reduction == 0 && x.dim() == 2 {
        &[frames]
    } else {
        &[]
    };
    let out = cx.empty_contiguous(shape, x.dtype)?;
    let is_target = cx.empty_contiguous(&target.sizes, x.dtype)?;
    let outs = [out, is_target];
    cx.k.library(
        LibraryOp::MultilabelMarginLoss(reduction),
        &[x.clone(), target.clone()],
        &outs,
    )
    .map_err(failed("library"))?;
    Ok(outs.into_iter().map(Output::Tensor).collect())
}

/// `multilabel_margin_loss_backward(grad_output, self, target, reduction, is_target)`: the
/// gradient by `self`, contiguous.
pub fn multilabel_margin_loss_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (grad, x, target) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let reduction = args.int(3)?;
    let is_target = args.tensor(4)?;
    check_multilabel_margin(x, target)?;
    ensure!(
        is_target.sizes == target.sizes,
        "inconsistent is_target size: {} for target of size: {}",
        fmt_shape(&is_target.sizes),
        fmt_shape(&target.sizes)
    );
    let out = cx.empty_contiguous(&x.sizes, x.dtype)?;
    let inputs = [grad.clone(), x.clone(), target.clone(), is_target.clone()];
    let op = LibraryOp::MultilabelMarginLossBackward(reduction);
    run(cx, op, &inputs, out.clone(), Output::Tensor(out))
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, meta, run, tensor};
    use crate::types::{Arg, OpError, Output, ScalarType, TensorMeta};

    fn forward(
        x: &TensorMeta,
        target: &TensorMeta,
        reduction: i64,
    ) -> Result<Vec<Output>, OpError> {
        let args = vec![arg(x), arg(target), Arg::Integer(reduction)];
        run("multilabel_margin_loss_forward", "", args).0
    }

    #[test]
    fn multilabel_margin_shapes_and_checks() {
        let (x, target) = (f32s(&[3, 4], 1), tensor(&[3, 4], ScalarType::Int64, 2));
        let outputs = forward(&x, &target, 0).unwrap();
        assert_eq!(meta(&outputs, 0).sizes, vec![3]);
        assert_eq!(meta(&outputs, 1).sizes, vec![3, 4]);
        assert_eq!(meta(&outputs, 1).dtype, ScalarType::Float32);
        let vector = forward(&f32s(&[4], 1), &tensor(&[4], ScalarType::Int64, 2), 0).unwrap();
        assert!(meta(&vector, 0).sizes.is_empty());
        let short = tensor(&[3, 3], ScalarType::Int64, 2);
        let err = forward(&x, &short, 1).unwrap_err();
        assert!(err.message.contains("inconsistent target size: [3, 3]"));
        let err = forward(&f32s(&[2, 0], 1), &tensor(&[2, 0], ScalarType::Int64, 2), 1);
        assert!(err
            .unwrap_err()
            .message
            .contains("Expected non-empty vector or matrix"));
    }
}
