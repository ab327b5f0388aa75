//! torchvision's compiled ops (`torchvision::nms`, `roi_align` and its backward), which
//! detection models call: their checks, shapes and dtypes as torchvision's CPU kernels give
//! them. The host computes each with one `library` kernel; `nms` keeps a number of boxes
//! that depends on values, so it asks `data-size` (the op's one round trip, where CUDA's
//! kernel waits for the device too).

use crate::error::{ensure, ensure_kernel, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::data::count;
use crate::ops::library::launch;
use crate::ops::tensor_arg::{check_same_type, TensorArg};
use crate::ops::Outputs;
use crate::rules::shape::fmt_shape;
use crate::types::{
    LibraryOp, NmsQuery, Output, RoiAlignParams, ScalarType, SizeQuery, TensorMeta,
};

/// `nms(dets, scores, iou_threshold)`: the indices of the boxes `[x1, y1, x2, y2]` that no
/// better-scoring kept box overlaps by more than `iou_threshold`, best score first.
pub fn nms(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (dets, scores) = (args.tensor(0)?, args.tensor(1)?);
    let iou_threshold = args.scalar(2)?.to_f64();
    ensure!(
        dets.dim() == 2,
        "boxes should be a 2d tensor, got {}D",
        dets.dim()
    );
    ensure!(
        dets.sizes[1] == 4,
        "boxes should have 4 elements in dimension 1, got {}",
        dets.sizes[1]
    );
    ensure!(
        scores.dim() == 1,
        "scores should be a 1d tensor, got {}D",
        scores.dim()
    );
    ensure!(
        dets.sizes[0] == scores.sizes[0],
        "boxes and scores should have same number of elements in dimension 0, got {} and {}",
        dets.sizes[0],
        scores.sizes[0]
    );
    ensure_kernel!(
        matches!(dets.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"nms_kernel\" not implemented for '{}'",
        dets.dtype.name()
    );
    ensure!(
        dets.dtype == scores.dtype,
        "dets should have the same type as scores"
    );
    let boxes = dets.sizes[0];
    if boxes == 0 {
        return Ok(vec![Output::Tensor(
            cx.empty_contiguous(&[0], ScalarType::Int64)?,
        )]);
    }
    // No overlap exceeds a NaN threshold: every box is kept, without asking.
    let kept = if iou_threshold.is_nan() {
        boxes
    } else {
        let query = SizeQuery::Nms(NmsQuery {
            iou_threshold,
            scores: scores.storage,
            scores_offset: scores.storage_offset,
            scores_stride: scores.strides[0],
        });
        count(cx, query, dets)?
    };
    let out = cx.empty_contiguous(&[kept], ScalarType::Int64)?;
    launch(
        cx,
        LibraryOp::Nms(iou_threshold),
        &[dets.clone(), scores.clone()],
        vec![out],
    )
}

/// The scalar arguments at `from` on: spatial scale, pooled height and width, then (after
/// `skip` more) sampling ratio and aligned.
fn roi_align_params(args: &Args, from: usize, skip: usize) -> Result<RoiAlignParams> {
    Ok(RoiAlignParams {
        spatial_scale: args.scalar(from)?.to_f64(),
        pooled_height: args.int(from + 1)?,
        pooled_width: args.int(from + 2)?,
        sampling_ratio: args.int(from + 3 + skip)?,
        aligned: args.bool_or(from + 4 + skip, false)?,
    })
}

/// The checks both directions make of the tensor they read (`x`), the boxes, and the
/// feature map (`map`, `[batch, channels, height, width]`) of the input, for pooled bins
/// `[rois, channels, pooled height, pooled width]`.
fn check_rois(op: &str, x: TensorArg, rois: &TensorMeta, map: &[i64], bins: &[i64]) -> Result<()> {
    ensure!(
        rois.dim() == 2 && rois.sizes[1] == 5,
        "rois must have shape as Tensor[K, 5]"
    );
    check_same_type(op, x, TensorArg::new(rois, "rois", 2))?;
    if bins.iter().any(|&n| n <= 0) {
        // Nothing to compute: the CPU kernel returns its zeros before it looks further.
        return Ok(());
    }
    ensure_kernel!(
        matches!(
            x.tensor.dtype,
            ScalarType::Float32 | ScalarType::Float64 | ScalarType::Float16
        ),
        "\"{op}\" not implemented for '{}'",
        x.tensor.dtype.name()
    );
    ensure!(
        map[2] > 0 && map[3] > 0,
        "{op}: the input {} has no pixels to pool {} boxes from",
        fmt_shape(map),
        rois.sizes[0]
    );
    Ok(())
}

/// `roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio,
/// aligned)`: each box `[batch, x1, y1, x2, y2]` of `rois` pooled from `input`'s image of
/// that batch index to `[channels, pooled_height, pooled_width]`.
pub fn roi_align(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (input, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = roi_align_params(args, 2, 0)?;
    ensure!(
        input.dim() == 4,
        "roi_align: input must be [batch, channels, height, width], got {}",
        input.describe()
    );
    let sizes = [
        rois.sizes.first().copied().unwrap_or(0),
        input.sizes[1],
        params.pooled_height,
        params.pooled_width,
    ];
    check_rois(
        "roi_align_forward_kernel",
        TensorArg::new(input, "input", 1),
        rois,
        &input.sizes,
        &sizes,
    )?;
    let out = cx.empty_contiguous(&sizes, input.dtype)?;
    launch(
        cx,
        LibraryOp::RoiAlign(params),
        &[input.clone(), rois.clone()],
        vec![out],
    )
}

/// `_roi_align_backward(grad, rois, spatial_scale, pooled_height, pooled_width, batch_size,
/// channels, height, width, sampling_ratio, aligned)`: the gradient of `roi_align`'s input.
pub fn roi_align_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(11)?;
    let (grad, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = roi_align_params(args, 2, 4)?;
    let input_sizes = [args.int(5)?, args.int(6)?, args.int(7)?, args.int(8)?];
    check_rois(
        "roi_align_backward_kernel",
        TensorArg::new(grad, "grad", 1),
        rois,
        &input_sizes,
        &grad.sizes,
    )?;
    let expected = [
        rois.sizes[0],
        input_sizes[1],
        params.pooled_height,
        params.pooled_width,
    ];
    ensure!(
        grad.sizes == expected,
        "roi_align_backward: grad must be {expected:?} (rois, channels, pooled height and \
         width), got {}",
        grad.describe()
    );
    let out = cx.empty_contiguous(&input_sizes, grad.dtype)?;
    launch(
        cx,
        LibraryOp::RoiAlignBackward(params),
        &[grad.clone(), rois.clone()],
        vec![out],
    )
}
