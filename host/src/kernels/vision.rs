//! torchvision's `nms`, `roi_align` and `ps_roi_align` with their backwards (and, in `pool`,
//! `roi_pool` and `ps_roi_pool`), which libtorch lacks: computed
//! on the host's CPU in the order torchvision's CPU kernels compute them, so that float32 and
//! float64 results agree with those kernels bit for bit (half precision is computed in float32,
//! as CUDA's kernels do). A GPU host copies the boxes and features to the CPU and the result
//! back. Boxes that name an image outside the batch are refused: the CPU kernel reads past
//! its input there.

use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

use tch::{Kind, TchError, Tensor};

use super::elements::{tensor_of, values, zeros};
use crate::guest::{RoiAlignParams, TensorMeta};

pub mod pool;

/// The float types the kernels compute in.
trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + AddAssign
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Default
    + tch::kind::Element
{
    fn of(v: f64) -> Self;
    fn of_int(v: i64) -> Self;
    fn to_double(self) -> f64;
    /// C's conversion to int: toward zero.
    fn trunc_int(self) -> i64;
    fn is_nan(self) -> bool;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            fn of(v: f64) -> Self {
                v as $t
            }
            fn of_int(v: i64) -> Self {
                v as $t
            }
            fn to_double(self) -> f64 {
                self as f64
            }
            fn trunc_int(self) -> i64 {
                self as i64
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
real!(f32);
real!(f64);

/// `std::max`: `b` only where `a < b`.
fn max<T: Real>(a: T, b: T) -> T {
    if a < b {
        b
    } else {
        a
    }
}

/// `std::min`: `b` only where `b < a`.
fn min<T: Real>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

/// `nms(dets, scores)`: the kept boxes' indices, best first.
pub fn nms(inputs: &[Tensor], iou_threshold: f64) -> Result<Tensor, TchError> {
    let [dets, scores] = inputs else {
        return Err(TchError::Kind("nms: boxes and scores expected".into()));
    };
    let keep = kept(dets, scores, iou_threshold)?;
    Tensor::f_from_slice(&keep)?.f_to_device(dets.device())
}

/// The indices of the boxes `nms` keeps.
pub fn kept(dets: &Tensor, scores: &Tensor, iou_threshold: f64) -> Result<Vec<i64>, TchError> {
    // A size query comes straight from the client: nothing has checked these shapes.
    let (boxes, scored) = (dets.size(), scores.size());
    if boxes.len() != 2 || boxes[1] != 4 || scored != [boxes[0]] {
        return Err(TchError::Shape(format!(
            "nms: boxes {boxes:?} and scores {scored:?} are not [N, 4] and [N]"
        )));
    }
    match dets.kind() {
        Kind::Double => keep::<f64>(dets, scores, iou_threshold),
        _ => keep::<f32>(dets, scores, iou_threshold),
    }
}

/// Greedy suppression over the boxes in descending score order (stable, NaN first, as
/// `sort(stable=True, descending=True)` orders them).
fn keep<T: Real>(dets: &Tensor, scores: &Tensor, iou_threshold: f64) -> Result<Vec<i64>, TchError> {
    let (boxes, scores) = (values::<T>(dets)?, values::<T>(scores)?);
    let corner = |i: usize, k: usize| boxes[4 * i + k];
    let area = |i: usize| (corner(i, 2) - corner(i, 0)) * (corner(i, 3) - corner(i, 1));
    let mut order = zeros::<usize>(&[scores.len() as i64])?;
    order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
    order.sort_by(|&a, &b| match (scores[a].is_nan(), scores[b].is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal),
    });
    let mut suppressed = zeros::<bool>(&[scores.len() as i64])?;
    let mut keep = Vec::new();
    for (at, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i as i64);
        let iarea = area(i);
        for &j in &order[at + 1..] {
            if suppressed[j] {
                continue;
            }
            let w = max(
                T::ZERO,
                min(corner(i, 2), corner(j, 2)) - max(corner(i, 0), corner(j, 0)),
            );
            let h = max(
                T::ZERO,
                min(corner(i, 3), corner(j, 3)) - max(corner(i, 1), corner(j, 1)),
            );
            let inter = w * h;
            let ovr = inter / (iarea + area(j) - inter);
            if ovr.to_double() > iou_threshold {
                suppressed[j] = true;
            }
        }
    }
    Ok(keep)
}

/// The most sampling points one box's bins may take together; more is refused rather than
/// planned (a box of absurd size asks for billions). A 7x7 box head adapting to an 800-pixel
/// box plans about 650,000.
const MAX_SAMPLES: i64 = 1 << 22;

/// C's conversion of a double to int on x86-64: out of range or NaN is `INT_MIN`, which
/// leaves a box without sampling points.
fn c_int(v: f64) -> i32 {
    if v.is_finite() && v > f64::from(i32::MIN) - 1.0 && v < f64::from(i32::MAX) + 1.0 {
        v as i32
    } else {
        i32::MIN
    }
}

/// One box in feature-map coordinates: where its bins start, their size, and how many
/// points each samples along each axis.
struct Roi<T> {
    batch: usize,
    start: [T; 2],
    bin: [T; 2],
    grid: [i64; 2],
    /// The points per bin, at least 1 (`roi_align` divides by it).
    count: T,
    /// The points per bin (`ps_roi_align` divides by it: NaN bins for a box without points).
    points: T,
}

impl<T: Real> Roi<T> {
    fn new(roi: &[T], p: &RoiAlignParams, batch: i64, at: usize) -> Result<Self, TchError> {
        let scale = T::of(p.spatial_scale);
        let offset = T::of(if p.aligned { 0.5 } else { 0.0 });
        let start = [roi[2] * scale - offset, roi[1] * scale - offset];
        let end = [roi[4] * scale - offset, roi[3] * scale - offset];
        let mut size = [end[0] - start[0], end[1] - start[1]];
        if !p.aligned {
            size = [max(size[0], T::of(1.0)), max(size[1], T::of(1.0))];
        }
        let pooled = [p.pooled_height, p.pooled_width];
        let bin = [
            size[0] / T::of_int(pooled[0]),
            size[1] / T::of_int(pooled[1]),
        ];
        // The CPU kernel takes the ratio as an int before it asks whether it is positive.
        let grid = [0, 1].map(|d| match p.sampling_ratio as i32 {
            r if r > 0 => r,
            _ => c_int((size[d] / T::of_int(pooled[d])).to_double().ceil()),
        });
        let planned = [0, 1]
            .map(|d| i64::from(grid[d].max(0)))
            .into_iter()
            .chain(pooled)
            .try_fold(1i64, i64::checked_mul)
            .unwrap_or(i64::MAX);
        if planned > MAX_SAMPLES {
            return Err(TchError::Kind(format!(
                "roi_align: box {at} would sample {planned} points (at most {MAX_SAMPLES})"
            )));
        }
        let index = i64::from(c_int(roi[0].to_double()));
        if !(0..batch).contains(&index) {
            return Err(TchError::Kind(format!(
                "roi_align: box {at} names image {index} of a batch of {batch}"
            )));
        }
        Ok(Roi {
            batch: index as usize,
            start,
            bin,
            grid: grid.map(|g| i64::from(g.max(0))),
            count: T::of_int(i64::from(grid[0].wrapping_mul(grid[1]).max(1))),
            points: T::of_int(i64::from(grid[0].wrapping_mul(grid[1]))),
        })
    }

    /// The sampling point `(iy, ix)` of bin `(ph, pw)`.
    fn point(&self, (ph, pw): (i64, i64), (iy, ix): (i64, i64)) -> (T, T) {
        let along = |d: usize, p: i64, i: i64| {
            self.start[d]
                + T::of_int(p) * self.bin[d]
                + T::of(i as f64 + 0.5) * self.bin[d] / T::of_int(self.grid[d])
        };
        (along(0, ph, iy), along(1, pw, ix))
    }
}

/// The four neighbours of a point and their bilinear weights, or none outside the map.
struct Bilinear<T> {
    at: [usize; 4],
    w: [T; 4],
}

fn bilinear<T: Real>(height: i64, width: i64, mut y: T, mut x: T) -> Option<Bilinear<T>> {
    // The CPU kernel reads outside the map for a NaN point; it contributes nothing here.
    if y.is_nan() || x.is_nan() {
        return None;
    }
    if y.to_double() < -1.0 || y > T::of_int(height) || x.to_double() < -1.0 || x > T::of_int(width)
    {
        return None;
    }
    if y <= T::ZERO {
        y = T::ZERO;
    }
    if x <= T::ZERO {
        x = T::ZERO;
    }
    let corner = |v: &mut T, len: i64| {
        let low = v.trunc_int();
        if low >= len - 1 {
            *v = T::of_int(len - 1);
            (len - 1, len - 1)
        } else {
            (low, low + 1)
        }
    };
    let (y_low, y_high) = corner(&mut y, height);
    let (x_low, x_high) = corner(&mut x, width);
    let ly = y - T::of_int(y_low);
    let lx = x - T::of_int(x_low);
    let (hy, hx) = (T::of(1.0) - ly, T::of(1.0) - lx);
    let at = |yy: i64, xx: i64| (yy * width + xx) as usize;
    Some(Bilinear {
        at: [
            at(y_low, x_low),
            at(y_low, x_high),
            at(y_high, x_low),
            at(y_high, x_high),
        ],
        w: [hy * hx, hy * lx, ly * hx, ly * lx],
    })
}

/// The kind a kernel computes `kind` in: double, else float.
fn compute_kind(kind: Kind) -> Kind {
    match kind {
        Kind::Double => Kind::Double,
        _ => Kind::Float,
    }
}

/// `roi_align(input, rois)`, or its backward `_roi_align_backward(grad, rois)`, into the
/// shape of `out`.
pub fn roi_align(
    inputs: &[Tensor],
    p: &RoiAlignParams,
    out: &TensorMeta,
    backward: bool,
) -> Result<Tensor, TchError> {
    let [x, rois] = inputs else {
        return Err(TchError::Kind(
            "roi_align: a tensor and rois expected".into(),
        ));
    };
    let run = match (compute_kind(x.kind()), backward) {
        (Kind::Double, false) => pool::<f64>,
        (_, false) => pool::<f32>,
        (Kind::Double, true) => unpool::<f64>,
        (_, true) => unpool::<f32>,
    };
    run(x, rois, p, &out.sizes)
}

/// The feature map's planes, one per image and channel: `[batch, channels, height, width]`.
struct Planes {
    batch: i64,
    channels: usize,
    height: i64,
    width: i64,
}

impl Planes {
    fn of(sizes: &[i64]) -> Result<Self, TchError> {
        let &[batch, channels, height, width] = sizes else {
            return Err(TchError::Shape(format!("roi_align: {sizes:?} is not 4-d")));
        };
        Ok(Planes {
            batch,
            channels: channels as usize,
            height,
            width,
        })
    }

    /// Calls `visit(roi, map plane, pooled plane, points)` for each box and channel, in the
    /// CPU kernels' order, with each bin's sampling points in bin order.
    fn walk<T: Real>(
        &self,
        boxes: &[T],
        p: &RoiAlignParams,
        mut visit: impl FnMut(&Roi<T>, usize, usize, &[Option<Bilinear<T>>]),
    ) -> Result<(), TchError> {
        for (n, roi) in boxes.chunks(5).enumerate() {
            let roi = Roi::new(roi, p, self.batch, n)?;
            let points = sample_points(&roi, p, self.height, self.width);
            for c in 0..self.channels {
                visit(
                    &roi,
                    roi.batch * self.channels + c,
                    n * self.channels + c,
                    &points,
                );
            }
        }
        Ok(())
    }

    fn plane(&self) -> usize {
        (self.height * self.width) as usize
    }
}

/// The forward: each bin the mean of its points.
fn pool<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    p: &RoiAlignParams,
    sizes: &[i64],
) -> Result<Tensor, TchError> {
    let mut output = zeros::<T>(sizes)?;
    if !output.is_empty() {
        let (x, boxes) = (values::<T>(input)?, values::<T>(rois)?);
        let planes = Planes::of(&input.size())?;
        let (plane, bins) = (planes.plane(), bins(p));
        planes.walk(&boxes, p, |roi, from, to, points| {
            let image = &x[from * plane..][..plane];
            let pooled = &mut output[to * bins..][..bins];
            for (bin, points) in pooled.iter_mut().zip(points.chunks(per_bin(points, bins))) {
                let mut sum = T::ZERO;
                for b in points {
                    // A point outside the map counts as weight 0 on the first pixel, as the
                    // CPU kernel has it (a NaN there makes the bin NaN).
                    let (at, w) = b.as_ref().map_or(([0; 4], [T::ZERO; 4]), |b| (b.at, b.w));
                    sum += w[0] * image[at[0]]
                        + w[1] * image[at[1]]
                        + w[2] * image[at[2]]
                        + w[3] * image[at[3]];
                }
                *bin = sum / roi.count;
            }
        })?;
    }
    tensor_of(&output, sizes, input)
}

/// The backward: each bin's gradient spread over its points' pixels.
fn unpool<T: Real>(
    grad: &Tensor,
    rois: &Tensor,
    p: &RoiAlignParams,
    sizes: &[i64],
) -> Result<Tensor, TchError> {
    let planes = Planes::of(sizes)?;
    let mut grad_input = zeros::<T>(sizes)?;
    if grad.numel() > 0 {
        let (g, boxes) = (values::<T>(grad)?, values::<T>(rois)?);
        let (plane, bins) = (planes.plane(), bins(p));
        planes.walk(&boxes, p, |roi, to, from, points| {
            let image = &mut grad_input[to * plane..][..plane];
            let pooled = &g[from * bins..][..bins];
            for (&gb, points) in pooled.iter().zip(points.chunks(per_bin(points, bins))) {
                for b in points.iter().flatten() {
                    for k in 0..4 {
                        image[b.at[k]] += gb * b.w[k] / roi.count;
                    }
                }
            }
        })?;
    }
    tensor_of(&grad_input, sizes, grad)
}

fn bins(p: &RoiAlignParams) -> usize {
    (p.pooled_height * p.pooled_width) as usize
}

/// Every bin's sampling points in bin order, the same number for each bin.
fn sample_points<T: Real>(
    roi: &Roi<T>,
    p: &RoiAlignParams,
    height: i64,
    width: i64,
) -> Vec<Option<Bilinear<T>>> {
    let (grid_h, grid_w) = (roi.grid[0].max(0), roi.grid[1].max(0));
    let mut points = Vec::new();
    for ph in 0..p.pooled_height {
        for pw in 0..p.pooled_width {
            for iy in 0..grid_h {
                for ix in 0..grid_w {
                    let (y, x) = roi.point((ph, pw), (iy, ix));
                    points.push(bilinear(height, width, y, x));
                }
            }
        }
    }
    points
}

/// How many of `points` each of `bins` takes; a box without points leaves every bin 0.
fn per_bin<T>(points: &[T], bins: usize) -> usize {
    (points.len() / bins).max(1)
}

/// `ps_roi_align(input, rois)`: the bins (of `outs[0]`'s shape) and the input channel each
/// read, as int32.
pub fn ps_roi_align(
    inputs: &[Tensor],
    p: &RoiAlignParams,
    outs: &[TensorMeta],
) -> Result<Vec<Tensor>, TchError> {
    let ([input, rois], [out, _]) = (inputs, outs) else {
        return Err(TchError::Kind(
            "ps_roi_align: a tensor and rois, and two results, expected".into(),
        ));
    };
    let values = match compute_kind(input.kind()) {
        Kind::Double => ps_pool::<f64>(input, rois, p, &out.sizes)?,
        _ => ps_pool::<f32>(input, rois, p, &out.sizes)?,
    };
    let mapping = channel_mapping(&out.sizes)?;
    let mapping = Tensor::f_from_slice(&mapping)?
        .f_view(out.sizes.as_slice())?
        .f_to_device(input.device())?;
    Ok(vec![values, mapping])
}

/// The input channel each bin of `[rois, channels, pooled height, pooled width]` reads.
fn channel_mapping(sizes: &[i64]) -> Result<Vec<i32>, TchError> {
    let mut mapping = zeros::<i32>(sizes)?;
    let per_roi = (sizes[1] * sizes[2] * sizes[3]).max(1) as usize;
    for (i, m) in mapping.iter_mut().enumerate() {
        *m = (i % per_roi) as i32;
    }
    Ok(mapping)
}

/// The bins of box `n` in its points' order: each bin's own points.
fn bin_points<T>(
    points: &[Option<Bilinear<T>>],
    bins: usize,
) -> impl Iterator<Item = &[Option<Bilinear<T>>]> {
    let per = points.len() / bins;
    (0..bins).map(move |b| &points[b * per..][..per])
}

fn ps_pool<T: Real>(
    input: &Tensor,
    rois: &Tensor,
    p: &RoiAlignParams,
    sizes: &[i64],
) -> Result<Tensor, TchError> {
    let mut output = zeros::<T>(sizes)?;
    if !output.is_empty() {
        let (x, boxes) = (values::<T>(input)?, values::<T>(rois)?);
        let map = Planes::of(&input.size())?;
        let (plane, bins, channels) = (map.plane(), bins(p), sizes[1] as usize);
        for (n, roi) in boxes.chunks(5).enumerate() {
            let roi = Roi::new(roi, p, map.batch, n)?;
            let points = sample_points(&roi, p, map.height, map.width);
            for c in 0..channels {
                for (bin, points) in bin_points(&points, bins).enumerate() {
                    let from = roi.batch * map.channels + c * bins + bin;
                    let image = &x[from * plane..][..plane];
                    let mut sum = T::ZERO;
                    for b in points {
                        sum += b.as_ref().map_or(T::ZERO, |b| {
                            b.w[0] * image[b.at[0]]
                                + b.w[1] * image[b.at[1]]
                                + b.w[2] * image[b.at[2]]
                                + b.w[3] * image[b.at[3]]
                        });
                    }
                    output[(n * channels + c) * bins + bin] = sum / roi.points;
                }
            }
        }
    }
    tensor_of(&output, sizes, input)
}

/// `_ps_roi_align_backward(grad, rois, channel_mapping)` into the input's shape (`out`'s).
pub fn ps_roi_align_backward(
    inputs: &[Tensor],
    p: &RoiAlignParams,
    out: &TensorMeta,
) -> Result<Tensor, TchError> {
    let [grad, rois, mapping] = inputs else {
        return Err(TchError::Kind(
            "ps_roi_align_backward: grad, rois and channel_mapping expected".into(),
        ));
    };
    match compute_kind(grad.kind()) {
        Kind::Double => ps_unpool::<f64>([grad, rois, mapping], p, &out.sizes),
        _ => ps_unpool::<f32>([grad, rois, mapping], p, &out.sizes),
    }
}

fn ps_unpool<T: Real>(
    [grad, rois, mapping]: [&Tensor; 3],
    p: &RoiAlignParams,
    sizes: &[i64],
) -> Result<Tensor, TchError> {
    let map = Planes::of(sizes)?;
    let mut grad_input = zeros::<T>(sizes)?;
    if grad.numel() > 0 {
        let (g, boxes) = (values::<T>(grad)?, values::<T>(rois)?);
        let mapping = values::<i32>(mapping)?;
        let (plane, bins, channels) = (map.plane(), bins(p), grad.size()[1] as usize);
        for (n, roi) in boxes.chunks(5).enumerate() {
            let roi = Roi::new(roi, p, map.batch, n)?;
            let points = sample_points(&roi, p, map.height, map.width);
            for c in 0..channels {
                for (bin, points) in bin_points(&points, bins).enumerate() {
                    let at = (n * channels + c) * bins + bin;
                    let channel = usize::try_from(mapping[at])
                        .ok()
                        .filter(|&m| m < map.channels)
                        .ok_or_else(|| {
                            TchError::Kind(format!(
                                "ps_roi_align_backward: channel {} of bin {at} is outside the \
                                 input {sizes:?}",
                                mapping[at]
                            ))
                        })?;
                    let image =
                        &mut grad_input[(roi.batch * map.channels + channel) * plane..][..plane];
                    for b in points.iter().flatten() {
                        for k in 0..4 {
                            image[b.at[k]] += g[at] * b.w[k] / roi.points;
                        }
                    }
                }
            }
        }
    }
    tensor_of(&grad_input, sizes, grad)
}
