//! Resampling: the `upsample_*` family that `F.interpolate` lowers to (nearest,
//! nearest-exact, linear, bilinear, bicubic, trilinear, and the antialiased bilinear and
//! bicubic) and their backwards.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output_like;
use crate::ops::tensor_arg::check_dim_size;
use crate::ops::{Form, Outputs};
use crate::rules::layout::contiguous_strides;
use crate::rules::shape::fmt_shape;
use crate::types::{ScalarType, TensorMeta, UpsampleMode};

/// One `upsample_*` op: how it resamples and over how many trailing dims.
#[derive(Debug, Clone, Copy)]
pub struct Resample {
    pub mode: UpsampleMode,
    pub dims: usize,
}

impl Resample {
    fn aligns(self) -> bool {
        !matches!(
            self.mode,
            UpsampleMode::Nearest | UpsampleMode::NearestExact
        )
    }

    /// `align_corners` (false for the nearest modes, which have none) and the scales, read
    /// from `args` from `at` on.
    fn options(self, args: &Args, at: usize) -> Result<(bool, Vec<Option<f64>>)> {
        let align = if self.aligns() {
            args.bool_or(at, false)?
        } else {
            false
        };
        let first = at + usize::from(self.aligns());
        let scales = (first..first + self.dims)
            .map(|i| args.opt_float(i))
            .collect::<Result<_>>()?;
        Ok((align, scales))
    }

    /// The op's form: `out=` comes after `sizes` size lists and the options.
    fn form(self, out: bool, sizes: usize) -> Form {
        if out {
            Form::Out((sizes + self.option_len()) as u32)
        } else {
            Form::Functional
        }
    }

    /// Whether the CPU's backward lays the gradient out as the incoming one: not for cubic
    /// resampling nor 3-d nearest, whose kernels give a contiguous one.
    fn keeps_grad_layout(self) -> bool {
        use UpsampleMode::*;
        !matches!(
            (self.mode, self.dims),
            (Cubic | CubicAntialias, _) | (Nearest | NearestExact, 3)
        )
    }

    /// Arguments after the sizes: `align_corners` if any, then one scale per dim.
    fn option_len(self) -> usize {
        usize::from(self.aligns()) + self.dims
    }

    /// The CPU's kernels resample floating types and, but for linear and trilinear, uint8.
    fn check_dtype(self, dtype: ScalarType) -> Result<()> {
        use UpsampleMode::*;
        let kernel = match (self.mode, self.dims) {
            (Nearest | NearestExact, 2) => "upsample_nearest2d_channels_last",
            (Nearest | NearestExact, _) => "compute_indices_weights_nearest",
            (Linear, 2) => "upsample_bilinear2d_channels_last",
            (Linear, _) => "compute_indices_weights_linear",
            (Cubic, _) => "compute_indices_weights_cubic",
            (LinearAntialias | CubicAntialias, _) => "compute_index_ranges_weights",
        };
        let bytes = dtype == ScalarType::Uint8 && (self.mode != Linear || self.dims == 2);
        ensure_kernel!(
            !dtype.is_integral(true) || bytes,
            "\"{kernel}\" not implemented for '{}'",
            dtype.name()
        );
        Ok(())
    }

    fn check_sizes(self, input: &[i64], output: &[i64]) -> Result<()> {
        ensure!(
            output.len() == self.dims,
            "It is expected output_size equals to {}, but got size {}",
            self.dims,
            output.len()
        );
        ensure!(
            input.len() == self.dims + 2,
            "It is expected input_size equals to {}, but got size {}",
            self.dims + 2,
            input.len()
        );
        let spatial = &input[2..];
        ensure!(
            spatial.iter().all(|&s| s > 0) && output.iter().all(|&s| s > 0),
            "Input and output sizes should be greater than 0, but got input {}{} output {}",
            named_sizes(spatial),
            if self.dims == 1 { " and" } else { "" },
            named_sizes(output)
        );
        Ok(())
    }
}

/// Spatial sizes as the upsampling checks name them: `(D: 2, H: 4, W: 5)`.
fn named_sizes(sizes: &[i64]) -> String {
    let names = ["D", "H", "W"];
    let named: Vec<String> = names[names.len().saturating_sub(sizes.len())..]
        .iter()
        .zip(sizes)
        .map(|(name, size)| format!("{name}: {size}"))
        .collect();
    format!("({})", named.join(", "))
}

/// `upsample_*(self, output_size, [align_corners,] scales...)` and its `.out`.
pub fn upsample(args: &Args, cx: &mut Ctx, out: bool, op: Resample) -> Outputs {
    let form = op.form(out, 2);
    args.at_most(2 + op.option_len() + form.out_len())?;
    let x = args.tensor(0)?;
    let output_size = args.int_list(1)?;
    ensure!(
        x.dim() == op.dims + 2,
        "Expected {}D input (N, C, spatial...) for {:?} upsampling, but got input of shape {}",
        op.dims + 2,
        op.mode,
        fmt_shape(&x.sizes)
    );
    op.check_sizes(&x.sizes, output_size)?;
    op.check_dtype(x.dtype)?;
    let (align, scales) = op.options(args, 2)?;
    let mut sizes = x.sizes[..2].to_vec();
    sizes.extend(output_size);
    let (out, returned) = output_like(args, cx, form, &sizes, x)?;
    cx.k.upsample(op.mode, x, output_size, align, &scales, &out)
        .map_err(failed("upsample"))?;
    Ok(vec![returned])
}

/// The CPU's check of a resampling gradient against the output's shape: 1-d resamplings with
/// `check_dim_size`, the others by rank and then dim by dim.
fn check_grad_shape(grad: &TensorMeta, expected: &[i64]) -> Result<()> {
    let n = expected.len();
    if n == 3 {
        return (0..n).try_for_each(|i| check_dim_size(grad, n, i, expected[i]));
    }
    ensure!(
        grad.dim() == n,
        "Expected grad_output to be a tensor of dimension {n} but got: dimension {}",
        grad.dim()
    );
    match (0..n).find(|&i| grad.sizes[i] != expected[i]) {
        Some(i) => Err(Error::invalid(format!(
            "Expected grad_output to have the same shape as output; output.size({i}) = {} but \
             got grad_output.size({i}) = {}",
            expected[i], grad.sizes[i]
        ))),
        None => Ok(()),
    }
}

/// `upsample_*_backward(grad_output, output_size, input_size, [align_corners,] scales...)`
/// and its `.grad_input`.
pub fn upsample_backward(args: &Args, cx: &mut Ctx, out: bool, op: Resample) -> Outputs {
    let form = op.form(out, 3);
    args.at_most(3 + op.option_len() + form.out_len())?;
    let grad = args.tensor(0)?;
    let (output_size, input_size) = (args.int_list(1)?, args.int_list(2)?);
    op.check_sizes(input_size, output_size)?;
    let mut expected = input_size[..2].to_vec();
    expected.extend(output_size);
    check_grad_shape(grad, &expected)?;
    let (align, scales) = op.options(args, 3)?;
    let like = if op.keeps_grad_layout() {
        grad.clone()
    } else {
        grad.view(grad.sizes.clone(), contiguous_strides(&grad.sizes)?, 0)
    };
    let (out, returned) = output_like(args, cx, form, input_size, &like)?;
    cx.k.upsample_backward(op.mode, grad, output_size, input_size, align, &scales, &out)
        .map_err(failed("upsample_backward"))?;
    Ok(vec![returned])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run};
    use crate::types::{Arg, ScalarType};

    #[test]
    fn upsample_shapes_layouts_and_checks() {
        let f = ScalarType::Float32;
        let mut x = f32s(&[2, 3, 4, 5], 1);
        let args = |x: &crate::types::TensorMeta| {
            vec![
                arg(x),
                Arg::IntList(vec![8, 10]),
                Arg::Boolean(false),
                Arg::None,
                Arg::None,
            ]
        };
        let (res, fake) = run("upsample_bilinear2d", "", args(&x));
        let out = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&out),
            (vec![2, 3, 8, 10], vec![240, 80, 10, 1], 0, f)
        );
        assert_eq!(fake.kernels(), vec!["upsample"]);
        x.strides = vec![60, 1, 15, 3];
        let (res, _) = run("upsample_bilinear2d", "", args(&x));
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![240, 1, 30, 3]);
        let nearest = vec![arg(&f32s(&[2, 3, 4], 1)), Arg::IntList(vec![0]), Arg::None];
        let (res, _) = run("upsample_nearest1d", "", nearest);
        assert!(res
            .unwrap_err()
            .message
            .contains("Input and output sizes should be greater than 0"));
        let grad = f32s(&[2, 3, 8], 1);
        let backward = vec![
            arg(&grad),
            Arg::IntList(vec![8]),
            Arg::IntList(vec![2, 3, 4]),
            Arg::Boolean(true),
            Arg::Float(2.0),
        ];
        let (res, fake) = run("upsample_linear1d_backward", "", backward);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 3, 4]);
        assert!(fake.calls[0].detail.ends_with("true [Some(2.0)]"));
    }
}
