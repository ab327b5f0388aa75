//! torchvision's compiled ops (`torchvision::nms`, and the box-pooling `roi_align`,
//! `roi_pool`, `ps_roi_align`, `ps_roi_pool` and their backwards), which detection models
//! call: their checks, shapes and dtypes as torchvision's CPU kernels give them. The host computes each with one `library` kernel; `nms` keeps a number of boxes
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
    LibraryOp, NmsQuery, Output, RoiAlignParams, RoiPoolParams, ScalarType, SizeQuery, TensorMeta,
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

/// One of torchvision's box-pooling kernels, as its checks name it.
#[derive(Clone, Copy)]
struct Kernel {
    /// The name its dtype refusal gives (`roi_align_forward_kernel`).
    name: &'static str,
    /// What it says of boxes that are not `[K, 5]`.
    boxes: &'static str,
    /// Whether it samples between pixels, which needs a map that has some.
    bilinear: bool,
}

impl Kernel {
    const fn new(name: &'static str, boxes: &'static str, bilinear: bool) -> Self {
        Kernel {
            name,
            boxes,
            bilinear,
        }
    }
}

const MUST: &str = "rois must have shape as Tensor[K, 5]";
const SHOULD: &str = "Tensor rois should have shape as Tensor[K, 5]";
const ROI_ALIGN: Kernel = Kernel::new("roi_align_forward_kernel", MUST, true);
const ROI_ALIGN_BACKWARD: Kernel = Kernel::new("roi_align_backward_kernel", MUST, true);
const ROI_POOL: Kernel = Kernel::new("roi_pool_forward_kernel", MUST, false);
const ROI_POOL_BACKWARD: Kernel = Kernel::new("roi_pool_backward_kernel", SHOULD, false);
const PS_ROI_ALIGN: Kernel = Kernel::new("ps_roi_align_forward_kernel", SHOULD, true);
const PS_ROI_ALIGN_BACKWARD: Kernel = Kernel::new("ps_roi_align_backward_kernel", SHOULD, true);
const PS_ROI_POOL: Kernel = Kernel::new("ps_roi_pool_forward_kernel", SHOULD, false);
const PS_ROI_POOL_BACKWARD: Kernel = Kernel::new("ps_roi_pool_backward_kernel", SHOULD, false);

/// The checks every kernel makes first: boxes `[K, 5]` of `x`'s dtype.
fn check_boxes(kernel: Kernel, x: TensorArg, rois: &TensorMeta) -> Result<()> {
    ensure!(rois.dim() == 2 && rois.sizes[1] == 5, "{}", kernel.boxes);
    check_same_type(kernel.name, x, TensorArg::new(rois, "rois", 2))
}

/// The checks a kernel makes of the tensor it reads (`x`) before it computes bins
/// `[rois, channels, pooled height, pooled width]` of the feature map `map` (`[batch,
/// channels, height, width]`).
fn check_pooling(
    kernel: Kernel,
    x: TensorArg,
    rois: &TensorMeta,
    map: &[i64],
    bins: &[i64],
) -> Result<()> {
    if bins.iter().any(|&n| n <= 0) {
        // Nothing to compute: the CPU kernel returns its zeros before it looks further.
        return Ok(());
    }
    ensure_kernel!(
        matches!(
            x.tensor.dtype,
            ScalarType::Float32 | ScalarType::Float64 | ScalarType::Float16
        ),
        "\"{}\" not implemented for '{}'",
        kernel.name,
        x.tensor.dtype.name()
    );
    ensure!(
        !kernel.bilinear || (map[2] > 0 && map[3] > 0),
        "{}: the input {} has no pixels to pool {} boxes from",
        kernel.name,
        fmt_shape(map),
        rois.sizes[0]
    );
    Ok(())
}

/// Both checks, for an op that is not position-sensitive.
fn check_rois(
    kernel: Kernel,
    x: TensorArg,
    rois: &TensorMeta,
    map: &[i64],
    bins: &[i64],
) -> Result<()> {
    check_boxes(kernel, x, rois)?;
    check_pooling(kernel, x, rois, map, bins)
}

/// A forward's input: `[batch, channels, height, width]`.
fn check_input(op: &str, input: &TensorMeta) -> Result<()> {
    ensure!(
        input.dim() == 4,
        "{op}: input must be [batch, channels, height, width], got {}",
        input.describe()
    );
    Ok(())
}

/// A backward's gradient (and the indices its forward gave beside the output, `indices`):
/// one bin per box, channel and pooled position.
fn check_grad(
    op: &str,
    grad: &TensorMeta,
    indices: Option<&TensorMeta>,
    expected: [i64; 4],
) -> Result<()> {
    ensure!(
        grad.sizes == expected,
        "{op}: grad must be {expected:?} (rois, channels, pooled height and width), got {}",
        grad.describe()
    );
    if let Some(indices) = indices {
        ensure!(
            indices.dtype == ScalarType::Int32,
            "expected scalar type Int but found {}",
            indices.dtype.name()
        );
        ensure!(
            indices.sizes == expected,
            "{op}: the forward's indices must be {expected:?} as the gradient, got {}",
            indices.describe()
        );
    }
    Ok(())
}

/// The channels a position-sensitive op gives for `channels` input channels: one per
/// `pooled_height * pooled_width` of them.
fn ps_channels(op: &str, channels: i64, pooled: [i64; 2]) -> Result<i64> {
    let bins = pooled[0].saturating_mul(pooled[1]);
    ensure!(
        bins != 0,
        "{op}: pooled height and width must not be 0, got {} and {}",
        pooled[0],
        pooled[1]
    );
    ensure!(
        channels % bins == 0,
        "input channels must be a multiple of pooling height * pooling width"
    );
    Ok(channels / bins)
}

/// The pooled values and, beside them, an int32 index per bin.
fn pooled_with_indices(cx: &mut Ctx, sizes: &[i64], dtype: ScalarType) -> Result<Vec<TensorMeta>> {
    Ok(vec![
        cx.empty_contiguous(sizes, dtype)?,
        cx.empty_contiguous(sizes, ScalarType::Int32)?,
    ])
}

/// `roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio,
/// aligned)`: each box `[batch, x1, y1, x2, y2]` of `rois` pooled from `input`'s image of
/// that batch index to `[channels, pooled_height, pooled_width]`.
pub fn roi_align(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let (input, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = roi_align_params(args, 2, 0)?;
    check_input("roi_align", input)?;
    let sizes = [
        rois.sizes.first().copied().unwrap_or(0),
        input.sizes[1],
        params.pooled_height,
        params.pooled_width,
    ];
    check_rois(
        ROI_ALIGN,
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
        ROI_ALIGN_BACKWARD,
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
    check_grad("roi_align_backward", grad, None, expected)?;
    let out = cx.empty_contiguous(&input_sizes, grad.dtype)?;
    launch(
        cx,
        LibraryOp::RoiAlignBackward(params),
        &[grad.clone(), rois.clone()],
        vec![out],
    )
}

/// The scalar arguments at `from` on: spatial scale, pooled height and width.
fn roi_pool_params(args: &Args, from: usize) -> Result<RoiPoolParams> {
    Ok(RoiPoolParams {
        spatial_scale: args.scalar(from)?.to_f64(),
        pooled_height: args.int(from + 1)?,
        pooled_width: args.int(from + 2)?,
    })
}

/// The input sizes `[batch, channels, height, width]` a backward takes at `from` on.
fn input_sizes(args: &Args, from: usize) -> Result<[i64; 4]> {
    Ok([
        args.int(from)?,
        args.int(from + 1)?,
        args.int(from + 2)?,
        args.int(from + 3)?,
    ])
}

/// `roi_pool(input, rois, spatial_scale, pooled_height, pooled_width)`: each box's bins the
/// largest value of their pixels, and where each was (`argmax`, int32, -1 for an empty bin).
pub fn roi_pool(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (input, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = roi_pool_params(args, 2)?;
    check_input("roi_pool", input)?;
    let sizes = [
        rois.sizes.first().copied().unwrap_or(0),
        input.sizes[1],
        params.pooled_height,
        params.pooled_width,
    ];
    let x = TensorArg::new(input, "input", 1);
    check_rois(ROI_POOL, x, rois, &input.sizes, &sizes)?;
    let outs = pooled_with_indices(cx, &sizes, input.dtype)?;
    launch(
        cx,
        LibraryOp::RoiPool(params),
        &[input.clone(), rois.clone()],
        outs,
    )
}

/// `_roi_pool_backward(grad, rois, argmax, spatial_scale, pooled_height, pooled_width,
/// batch_size, channels, height, width)`: each bin's gradient to the pixel it took.
pub fn roi_pool_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(10)?;
    let (grad, rois, argmax) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let params = roi_pool_params(args, 3)?;
    let input_sizes = input_sizes(args, 6)?;
    let g = TensorArg::new(grad, "grad", 1);
    check_rois(ROI_POOL_BACKWARD, g, rois, &input_sizes, &grad.sizes)?;
    let expected = [
        rois.sizes[0],
        input_sizes[1],
        params.pooled_height,
        params.pooled_width,
    ];
    check_grad("roi_pool_backward", grad, Some(argmax), expected)?;
    let out = cx.empty_contiguous(&input_sizes, grad.dtype)?;
    launch(
        cx,
        LibraryOp::RoiPoolBackward(params),
        &[grad.clone(), rois.clone(), argmax.clone()],
        vec![out],
    )
}

/// The checks of a position-sensitive forward and the sizes of its output.
fn ps_forward(
    kernel: Kernel,
    op: &str,
    input: &TensorMeta,
    rois: &TensorMeta,
    pooled: [i64; 2],
) -> Result<[i64; 4]> {
    check_input(op, input)?;
    let x = TensorArg::new(input, "input", 1);
    check_boxes(kernel, x, rois)?;
    let channels = ps_channels(op, input.sizes[1], pooled)?;
    let sizes = [rois.sizes[0], channels, pooled[0], pooled[1]];
    check_pooling(kernel, x, rois, &input.sizes, &sizes)?;
    Ok(sizes)
}

/// A position-sensitive backward `(grad, rois, channel_mapping, ...)` into an input of
/// `input_sizes`: its checks, then `library` on the three tensors.
fn ps_backward(
    (kernel, op): (Kernel, &str),
    args: &Args,
    cx: &mut Ctx,
    library: LibraryOp,
    pooled: [i64; 2],
    input_sizes: &[i64; 4],
) -> Outputs {
    let (grad, rois, mapping) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let g = TensorArg::new(grad, "grad", 1);
    check_rois(kernel, g, rois, input_sizes, &grad.sizes)?;
    let channels = ps_channels(op, input_sizes[1], pooled)?;
    let expected = [rois.sizes[0], channels, pooled[0], pooled[1]];
    check_grad(op, grad, Some(mapping), expected)?;
    let out = cx.empty_contiguous(input_sizes, grad.dtype)?;
    let inputs = [grad.clone(), rois.clone(), mapping.clone()];
    launch(cx, library, &inputs, vec![out])
}

/// `ps_roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio)`:
/// `roi_align` (with pixel centres at half-integers) where bin `(ph, pw)` of output channel
/// `c` reads input channel `(c * pooled_height + ph) * pooled_width + pw`, and that channel
/// (int32) beside it.
pub fn ps_roi_align(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let (input, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = ps_roi_align_params(args, 2, 5)?;
    let pooled = [params.pooled_height, params.pooled_width];
    let sizes = ps_forward(PS_ROI_ALIGN, "ps_roi_align", input, rois, pooled)?;
    let outs = pooled_with_indices(cx, &sizes, input.dtype)?;
    launch(
        cx,
        LibraryOp::PsRoiAlign(params),
        &[input.clone(), rois.clone()],
        outs,
    )
}

/// `ps_roi_align`'s scalars: spatial scale and pooled sizes at `from` on, sampling ratio at
/// `ratio`.
fn ps_roi_align_params(args: &Args, from: usize, ratio: usize) -> Result<RoiAlignParams> {
    let pool = roi_pool_params(args, from)?;
    Ok(RoiAlignParams {
        spatial_scale: pool.spatial_scale,
        pooled_height: pool.pooled_height,
        pooled_width: pool.pooled_width,
        sampling_ratio: args.int(ratio)?,
        aligned: true,
    })
}

/// `_ps_roi_align_backward(grad, rois, channel_mapping, spatial_scale, pooled_height,
/// pooled_width, sampling_ratio, batch_size, channels, height, width)`.
pub fn ps_roi_align_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(11)?;
    let params = ps_roi_align_params(args, 3, 6)?;
    let input_sizes = input_sizes(args, 7)?;
    let pooled = [params.pooled_height, params.pooled_width];
    let kernel = (PS_ROI_ALIGN_BACKWARD, "ps_roi_align_backward");
    let library = LibraryOp::PsRoiAlignBackward(params);
    ps_backward(kernel, args, cx, library, pooled, &input_sizes)
}

/// `ps_roi_pool(input, rois, spatial_scale, pooled_height, pooled_width)`: each bin the mean
/// of its pixels in its own input channel (as `ps_roi_align` maps them), and that channel.
pub fn ps_roi_pool(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (input, rois) = (args.tensor(0)?, args.tensor(1)?);
    let params = roi_pool_params(args, 2)?;
    let pooled = [params.pooled_height, params.pooled_width];
    let sizes = ps_forward(PS_ROI_POOL, "ps_roi_pool", input, rois, pooled)?;
    let outs = pooled_with_indices(cx, &sizes, input.dtype)?;
    launch(
        cx,
        LibraryOp::PsRoiPool(params),
        &[input.clone(), rois.clone()],
        outs,
    )
}

/// `_ps_roi_pool_backward(grad, rois, channel_mapping, spatial_scale, pooled_height,
/// pooled_width, batch_size, channels, height, width)`.
pub fn ps_roi_pool_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(10)?;
    let params = roi_pool_params(args, 3)?;
    let input_sizes = input_sizes(args, 6)?;
    let pooled = [params.pooled_height, params.pooled_width];
    let kernel = (PS_ROI_POOL_BACKWARD, "ps_roi_pool_backward");
    let library = LibraryOp::PsRoiPoolBackward(params);
    ps_backward(kernel, args, cx, library, pooled, &input_sizes)
}
