//! torchvision's `roi_pool` and `ps_roi_pool` with their backwards: boxes rounded to whole
//! pixels, each bin the largest (`roi_pool`) or the mean (`ps_roi_pool`) of its pixels, in the
//! order and arithmetic of torchvision's CPU kernels.

use tch::{Kind, TchError, Tensor};

use super::{c_int, compute_kind, Planes, Real};
use crate::guest::{RoiPoolParams, TensorMeta};
use crate::kernels::elements::{tensor_of, values, zeros};

/// Which of the two ops: they round their boxes and clip their bins differently.
#[derive(Clone, Copy, PartialEq)]
pub enum Pooling {
    /// `roi_pool`: a box takes its last row and column; bins clip to the map.
    Max,
    /// `ps_roi_pool`: a box ends before its last row and column; the forward's bins clip to
    /// the map less its last row and column (the backward's to the map: the CPU kernels
    /// differ there).
    PositionSensitive,
}

impl Pooling {
    fn name(self) -> &'static str {
        match self {
            Pooling::Max => "roi_pool",
            Pooling::PositionSensitive => "ps_roi_pool",
        }
    }
}

/// One box's bins on the map, as whole pixels: `[start, end)` along y then x for each bin in
/// bin order.
struct Bins {
    batch: usize,
    ranges: Vec<[i32; 4]>,
}

impl Bins {
    fn new<T: Real>(
        roi: &[T],
        p: &RoiPoolParams,
        (pooling, backward): (Pooling, bool),
        map: &Planes,
        at: usize,
    ) -> Result<Self, TchError> {
        let batch = i64::from(c_int(roi[0].to_double()));
        if !(0..map.batch).contains(&batch) {
            return Err(TchError::Kind(format!(
                "{}: box {at} names image {batch} of a batch of {}",
                pooling.name(),
                map.batch
            )));
        }
        let scale = T::of(p.spatial_scale);
        let rounded = |v: T| c_int((v * scale).to_double().round());
        let (start, end) = (
            [rounded(roi[2]), rounded(roi[1])],
            [rounded(roi[4]), rounded(roi[3])],
        );
        let last = i32::from(pooling == Pooling::Max);
        let size = [0, 1].map(|d| end[d].wrapping_sub(start[d]).wrapping_add(last).max(1));
        let pooled = [p.pooled_height, p.pooled_width];
        let bin = [0, 1].map(|d| T::of_int(i64::from(size[d])) / T::of_int(pooled[d]));
        let short = i32::from(pooling == Pooling::PositionSensitive && !backward);
        let limit = [map.height, map.width].map(|n| n as i32 - short);
        let clip = |d: usize, v: i32| v.wrapping_add(start[d]).max(0).min(limit[d]);
        let mut ranges = Vec::new();
        for ph in 0..pooled[0] {
            for pw in 0..pooled[1] {
                let edge = |d: usize, i: i64| {
                    let from = c_int((T::of_int(i) * bin[d]).to_double().floor());
                    let to = c_int((T::of_int(i + 1) * bin[d]).to_double().ceil());
                    (clip(d, from), clip(d, to))
                };
                let ((h0, h1), (w0, w1)) = (edge(0, ph), edge(1, pw));
                ranges.push([h0, h1, w0, w1]);
            }
        }
        Ok(Bins {
            batch: batch as usize,
            ranges,
        })
    }
}

/// Whether bin `[h0, h1, w0, w1]` holds no pixel.
fn is_empty([h0, h1, w0, w1]: [i32; 4]) -> bool {
    h1 <= h0 || w1 <= w0
}

/// The pixels of a bin, row by row, as offsets into a plane `width` wide.
fn pixels([h0, h1, w0, w1]: [i32; 4], width: i64) -> impl Iterator<Item = usize> {
    (h0..h1)
        .flat_map(move |h| (w0..w1).map(move |w| (i64::from(h) * width + i64::from(w)) as usize))
}

/// The input channel bin `bin` of output channel `c` reads, of `pooled` bins: itself for
/// `roi_pool`, its own for `ps_roi_pool`.
fn channel_of(pooling: Pooling, c: usize, bin: usize, bins: usize) -> usize {
    match pooling {
        Pooling::Max => c,
        Pooling::PositionSensitive => c * bins + bin,
    }
}

/// The forward: the pooled values `[rois, channels, pooled height, pooled width]` (of
/// `outs[0]`) and, of `outs[1]`, where each maximum was (`roi_pool`) or which channel each
/// bin read (`ps_roi_pool`), as int32.
pub fn pool(
    inputs: &[Tensor],
    p: &RoiPoolParams,
    outs: &[TensorMeta],
    pooling: Pooling,
) -> Result<Vec<Tensor>, TchError> {
    let ([input, rois], [out, _]) = (inputs, outs) else {
        return Err(TchError::Kind(format!(
            "{}: a tensor and rois, and two results, expected",
            pooling.name()
        )));
    };
    let sizes = &out.sizes;
    let (values, indices) = match compute_kind(input.kind()) {
        Kind::Double => forward::<f64>(input, rois, p, sizes, pooling)?,
        _ => forward::<f32>(input, rois, p, sizes, pooling)?,
    };
    let indices = Tensor::f_from_slice(&indices)?
        .f_view(sizes.as_slice())?
        .f_to_device(input.device())?;
    Ok(vec![values, indices])
}

fn forward<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    p: &RoiPoolParams,
    sizes: &[i64],
    pooling: Pooling,
) -> Result<(Tensor, Vec<i32>), TchError> {
    let mut output = zeros::<T>(sizes)?;
    let mut indices = zeros::<i32>(sizes)?;
    if !output.is_empty() {
        let (x, boxes) = (values::<T>(input)?, values::<T>(rois)?);
        let map = Planes::of(&input.size())?;
        let (plane, channels) = (map.plane(), sizes[1] as usize);
        let bins = (p.pooled_height * p.pooled_width) as usize;
        for (n, roi) in boxes.chunks(5).enumerate() {
            let found = Bins::new(roi, p, (pooling, false), &map, n)?;
            for c in 0..channels {
                for (bin, &range) in found.ranges.iter().enumerate() {
                    let channel = channel_of(pooling, c, bin, bins);
                    let image = &x[(found.batch * map.channels + channel) * plane..][..plane];
                    let at = (n * channels + c) * bins + bin;
                    (output[at], indices[at]) = match pooling {
                        Pooling::Max => largest(image, range, map.width),
                        Pooling::PositionSensitive => {
                            (mean(image, range, map.width), channel as i32)
                        }
                    };
                }
            }
        }
    }
    Ok((tensor_of(&output, sizes, input)?, indices))
}

/// A bin's largest value and its offset in the plane (the first of equals, NaN never), or 0
/// and -1 for an empty bin.
fn largest<T: Real>(image: &[T], range: [i32; 4], width: i64) -> (T, i32) {
    // The CPU kernel starts from -FLT_MAX whatever the dtype.
    let mut best = if is_empty(range) {
        T::ZERO
    } else {
        T::of(f64::from(-f32::MAX))
    };
    let mut index = -1;
    for at in pixels(range, width) {
        if image[at] > best {
            best = image[at];
            index = at as i32;
        }
    }
    (best, index)
}

/// A bin's mean, summed row by row, or 0 for an empty bin.
fn mean<T: Real>(image: &[T], range: [i32; 4], width: i64) -> T {
    if is_empty(range) {
        return T::ZERO;
    }
    let mut sum = T::ZERO;
    for at in pixels(range, width) {
        sum += image[at];
    }
    sum / area(range)
}

/// How many pixels a bin holds, as `T`.
fn area<T: Real>([h0, h1, w0, w1]: [i32; 4]) -> T {
    T::of_int(i64::from(h1 - h0) * i64::from(w1 - w0))
}

/// The backward `(grad, rois, indices)` into the input's shape (`out`'s): each bin's gradient
/// to the pixel it took (`roi_pool`) or spread evenly over its pixels in the channel it read
/// (`ps_roi_pool`).
pub fn unpool(
    inputs: &[Tensor],
    p: &RoiPoolParams,
    out: &TensorMeta,
    pooling: Pooling,
) -> Result<Tensor, TchError> {
    let [grad, rois, indices] = inputs else {
        return Err(TchError::Kind(format!(
            "{}_backward: grad, rois and indices expected",
            pooling.name()
        )));
    };
    match compute_kind(grad.kind()) {
        Kind::Double => backward::<f64>([grad, rois, indices], p, &out.sizes, pooling),
        _ => backward::<f32>([grad, rois, indices], p, &out.sizes, pooling),
    }
}

fn backward<T: Real>(
    [grad, rois, indices]: [&Tensor; 3],
    p: &RoiPoolParams,
    sizes: &[i64],
    pooling: Pooling,
) -> Result<Tensor, TchError> {
    let map = Planes::of(sizes)?;
    let mut grad_input = zeros::<T>(sizes)?;
    if grad.numel() > 0 {
        let (g, boxes) = (values::<T>(grad)?, values::<T>(rois)?);
        let indices = values::<i32>(indices)?;
        let plane = map.plane();
        let (channels, bins) = (
            grad.size()[1] as usize,
            (p.pooled_height * p.pooled_width) as usize,
        );
        for (n, roi) in boxes.chunks(5).enumerate() {
            let found = Bins::new(roi, p, (pooling, true), &map, n)?;
            for c in 0..channels {
                for (bin, &range) in found.ranges.iter().enumerate() {
                    let at = (n * channels + c) * bins + bin;
                    let index = indices[at];
                    let checked = match pooling {
                        Pooling::Max => (-1..plane as i64).contains(&i64::from(index)),
                        Pooling::PositionSensitive => {
                            (0..map.channels as i64).contains(&i64::from(index))
                        }
                    };
                    if !checked {
                        return Err(TchError::Kind(format!(
                            "{}_backward: index {index} of bin {at} is outside the input {sizes:?}",
                            pooling.name()
                        )));
                    }
                    match pooling {
                        Pooling::Max if index >= 0 => {
                            let image = &mut grad_input[(found.batch * map.channels + c) * plane..]
                                [..plane];
                            image[index as usize] += g[at];
                        }
                        Pooling::Max => {}
                        Pooling::PositionSensitive => {
                            let image = &mut grad_input
                                [(found.batch * map.channels + index as usize) * plane..][..plane];
                            let share = if is_empty(range) {
                                T::ZERO
                            } else {
                                g[at] / area(range)
                            };
                            for pixel in pixels(range, map.width) {
                                image[pixel] += share;
                            }
                        }
                    }
                }
            }
        }
    }
    tensor_of(&grad_input, sizes, grad)
}
