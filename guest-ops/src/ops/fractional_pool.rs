//! Fractional max pooling (`fractional_max_pool2d`/`3d` and their backwards): windows placed
//! by the caller's random samples, one `library` kernel each. The checks, shapes and dtypes
//! are PyTorch's; outputs and indices come out contiguous.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::shape::fmt_shape;
use crate::types::{LibraryOp, ScalarType, TensorMeta};

/// What each spatial dim is called in PyTorch's messages, outermost first.
const DIM_NAMES: [&str; 3] = ["time", "height", "width"];

/// The pooling of one call: `dims` spatial dims, windows of `kernel` placed to give
/// `output` positions.
struct Fractional<'a> {
    dims: usize,
    kernel: &'a [i64],
    output: &'a [i64],
}

impl<'a> Fractional<'a> {
    /// The kernel and output sizes at `at` and `at + 1`.
    fn read(args: &Args<'a>, dims: usize, at: usize) -> Result<Self> {
        Ok(Self {
            dims,
            kernel: args.int_list(at)?,
            output: args.int_list(at + 1)?,
        })
    }

    fn name(&self) -> String {
        match self.dims {
            2 => "fractional_max_pool2d()".to_string(),
            _ => "fractional_max_pool3d_out()".to_string(),
        }
    }

    /// The output sizes for `x`, after PyTorch's checks (`x` floating too).
    fn output_sizes(&self, x: &TensorMeta) -> Result<Vec<i64>> {
        let (dims, name) = (self.dims, self.name());
        for (list, what) in [(self.kernel, "kernel_size"), (self.output, "output_size")] {
            ensure!(
                list.len() == dims,
                "fractional_max_pool{dims}d: {what} must either be a single Int or tuple of Ints"
            );
        }
        ensure!(
            x.dim() == dims + 1 || x.dim() == dims + 2,
            "{name}: Expected {}D or {}D tensor, but got: {}",
            dims + 1,
            dims + 2,
            fmt_shape(&x.sizes)
        );
        if let Some(d) = (1..x.dim()).find(|&d| x.sizes[d] == 0) {
            return Err(Error::invalid(format!(
                "{name}: Expected input to have non-zero size for non-batch dimensions, but \
                 got{} with dimension {d} being empty.",
                fmt_shape(&x.sizes)
            )));
        }
        let spatial = &x.sizes[x.dim() - dims..];
        let names = &DIM_NAMES[3 - dims..];
        for i in 0..dims {
            ensure!(
                self.output[i] + self.kernel[i] - 1 <= spatial[i],
                "{name}: pool {} {} too large relative to input {} {}",
                names[i],
                self.kernel[i],
                names[i],
                spatial[i]
            );
        }
        ensure_kernel!(
            x.dtype.is_floating(),
            "\"fractional_max_pool{dims}d_out_frame\" not implemented for '{}'",
            x.dtype.name()
        );
        let mut sizes = x.sizes[..x.dim() - dims].to_vec();
        sizes.extend_from_slice(self.output);
        Ok(sizes)
    }
}

/// `fractional_max_pool{dims}d(self, kernel_size, output_size, random_samples)`: the maxima
/// and their flat indices within each plane.
pub fn forward(args: &Args, cx: &mut Ctx, dims: usize) -> Outputs {
    args.at_most(4)?;
    let x = args.tensor(0)?;
    let pooling = Fractional::read(args, dims, 1)?;
    let samples = args.tensor(3)?;
    let sizes = pooling.output_sizes(x)?;
    ensure!(
        samples.dim() == 3,
        "Expect _random_samples to have 3 dimensions, got {}",
        samples.dim()
    );
    let batch = if x.dim() == dims + 2 { x.sizes[0] } else { 1 };
    ensure!(
        samples.sizes[0] >= batch,
        "Expect _random_samples.size(0) no less then input batch size."
    );
    ensure!(
        samples.dtype == x.dtype,
        "Expect _random_samples to have the same dtype as input"
    );
    let out = cx.empty_contiguous(&sizes, x.dtype)?;
    let indices = cx.empty_contiguous(&sizes, ScalarType::Int64)?;
    let op = LibraryOp::FractionalMaxPool((pooling.kernel.to_vec(), pooling.output.to_vec()));
    launch(cx, op, &[x.clone(), samples.clone()], vec![out, indices])
}

/// `fractional_max_pool{dims}d_backward(grad_output, self, kernel_size, output_size,
/// indices)`: the gradient by `self`, contiguous.
pub fn backward(args: &Args, cx: &mut Ctx, dims: usize) -> Outputs {
    args.at_most(5)?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let pooling = Fractional::read(args, dims, 2)?;
    let indices = args.tensor(4)?;
    let sizes = pooling.output_sizes(x)?;
    ensure!(
        grad.sizes == sizes && indices.sizes == sizes,
        "fractional_max_pool{dims}d_backward(): expected a gradient and indices of {}, got {} \
         and {}",
        fmt_shape(&sizes),
        fmt_shape(&grad.sizes),
        fmt_shape(&indices.sizes)
    );
    ensure!(
        indices.dtype == ScalarType::Int64,
        "fractional_max_pool{dims}d_backward(): expected int64 indices, got {}",
        indices.dtype.name()
    );
    let grad_input = cx.empty_contiguous(&x.sizes, x.dtype)?;
    let op =
        LibraryOp::FractionalMaxPoolBackward((pooling.kernel.to_vec(), pooling.output.to_vec()));
    launch(
        cx,
        op,
        &[grad.clone(), x.clone(), indices.clone()],
        vec![grad_input],
    )
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run};
    use crate::types::{Arg, ScalarType};

    #[test]
    fn fractional_pooling_shapes_and_checks() {
        let x = f32s(&[2, 3, 9, 9], 1);
        let args = |output: i64, samples: &[i64]| {
            vec![
                arg(&x),
                Arg::IntList(vec![2, 2]),
                Arg::IntList(vec![output, output]),
                arg(&f32s(samples, 2)),
            ]
        };
        let outputs = run("fractional_max_pool2d", "", args(4, &[2, 3, 2]))
            .0
            .unwrap();
        assert_eq!(
            geometry(&meta(&outputs, 0)),
            (vec![2, 3, 4, 4], vec![48, 16, 4, 1], 0, ScalarType::Float32)
        );
        assert_eq!(meta(&outputs, 1).dtype, ScalarType::Int64);
        let err = run("fractional_max_pool2d", "", args(9, &[2, 3, 2]))
            .0
            .unwrap_err();
        assert!(err
            .message
            .contains("pool height 2 too large relative to input height 9"));
        let err = run("fractional_max_pool2d", "", args(4, &[1, 3, 2]))
            .0
            .unwrap_err();
        assert!(err.message.contains("no less then input batch size"));
    }
}
