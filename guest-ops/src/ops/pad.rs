//! Reflection and replication padding (`reflection_pad{1,2,3}d`, `replication_pad{1,2,3}d`)
//! and their backwards, which `F.pad` lowers to for `mode="reflect"` and `"replicate"`.

use crate::error::{ensure, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output_like;
use crate::ops::{Form, Outputs};
use crate::rules::dtype::check_not_bool;
use crate::rules::shape::fmt_shape;
use crate::types::{PadMode, TensorMeta};

/// One padding op: its mode and how many trailing dims it pads.
#[derive(Debug, Clone, Copy)]
pub struct Padding {
    pub mode: PadMode,
    pub dims: usize,
}

impl Padding {
    /// The padded sizes of `x`, with the checks of PyTorch's forward kernels: the padding's
    /// length, an input of k+1 or k+2 dims none empty but the batch, reflection's padding
    /// within the input, and an output with some padded dim left and none negative.
    fn padded(self, x: &TensorMeta, padding: &[i64]) -> Result<Vec<i64>> {
        let k = self.dims;
        self.check_padding_len(padding)?;
        let batched = x.dim() == k + 2;
        let first_kept = usize::from(batched);
        let valid = (batched || x.dim() == k + 1) && x.sizes[first_kept..].iter().all(|&s| s != 0);
        ensure!(
            valid,
            "Expected {}D or {}D (batch mode) tensor with possibly 0 batch size and other \
             non-zero dimensions for input, but got: {}",
            k + 1,
            k + 2,
            fmt_shape(&x.sizes)
        );
        if self.mode == PadMode::Reflect {
            for i in 0..k {
                let d = x.dim() - 1 - i;
                let (left, right) = (padding[2 * i], padding[2 * i + 1]);
                ensure!(
                    left < x.sizes[d] && right < x.sizes[d],
                    "Argument #{}: Padding size should be less than the corresponding input \
                     dimension, but got: padding ({left}, {right}) at dimension {d} of input {}",
                    4 + 2 * i,
                    fmt_shape(&x.sizes)
                );
            }
        }
        let sizes = self.sizes_of(x, padding);
        let padded = &sizes[x.dim() - k..];
        ensure!(
            padded.iter().any(|&s| s >= 1),
            "{}",
            self.too_small(&x.sizes[x.dim() - k..], padded)
        );
        if let Some(negative) = sizes.iter().find(|&&s| s < 0) {
            return Err(Error::invalid(if self.mode == PadMode::Reflect && k == 2 {
                "numel: integer multiplication overflow".to_string()
            } else {
                format!(
                    "Trying to create tensor with negative dimension {negative}: {}",
                    fmt_shape(&sizes)
                )
            }));
        }
        Ok(sizes)
    }

    fn check_padding_len(self, padding: &[i64]) -> Result<()> {
        let expected = 2 * self.dims;
        match self.mode {
            PadMode::Reflect => ensure!(
                padding.len() == expected,
                "padding size is expected to be {expected}, but got: {}",
                padding.len()
            ),
            _ => ensure!(
                padding.len() == expected,
                "padding size is expected to be {expected}"
            ),
        }
        Ok(())
    }

    /// `x`'s sizes with each of its last k dims padded.
    fn sizes_of(self, x: &TensorMeta, padding: &[i64]) -> Vec<i64> {
        let mut sizes = x.sizes.clone();
        for i in 0..self.dims {
            let d = x.dim() - 1 - i;
            sizes[d] = sizes[d]
                .saturating_add(padding[2 * i])
                .saturating_add(padding[2 * i + 1]);
        }
        sizes
    }

    /// The CPU kernel's message for an output with no padded dim left: `input` and `output`
    /// are the padded dims' sizes, (D,) (H,) W.
    fn too_small(self, input: &[i64], output: &[i64]) -> String {
        match (input, output) {
            ([w], [ow]) => format!("input (W: {w}) is too small. Calculated output W: {ow}"),
            ([h, w], [oh, ow]) => {
                // The CPU's replication message has a space before its parenthesis.
                let space = if self.mode == PadMode::Reflect {
                    ""
                } else {
                    " "
                };
                format!(
                    "input (H: {h}, W: {w}{space}) is too small. Calculated output H: {oh} W: {ow}"
                )
            }
            ([d, h, w], [od, oh, ow]) => format!(
                "input (D: {d} H: {h}, W: {w}) is too small. Calculated output D: {od} H: {oh} \
                 W: {ow}"
            ),
            _ => format!("input {} is too small", fmt_shape(input)),
        }
    }

    fn form(self, out: bool, at: u32) -> Form {
        if out {
            Form::Out(at)
        } else {
            Form::Functional
        }
    }
}

/// `*_pad{k}d(self, padding)` and its `.out`.
pub fn pad(args: &Args, cx: &mut Ctx, out: bool, op: Padding) -> Outputs {
    let form = op.form(out, 2);
    args.at_most(2 + form.out_len())?;
    let (x, padding) = (args.tensor(0)?, args.int_list(1)?);
    let sizes = op.padded(x, padding)?;
    let kernel = if op.mode == PadMode::Reflect {
        "reflection"
    } else {
        "replication"
    };
    check_not_bool(x.dtype, &format!("{kernel}_pad{}d", op.dims))?;
    let (target, returned) = output_like(args, cx, form, &sizes, x)?;
    cx.k.pad(op.mode, x, padding, &target)
        .map_err(failed("pad"))?;
    Ok(vec![returned])
}

/// `*_pad{k}d_backward(grad_output, self, padding)` and its `.grad_input`.
pub fn pad_backward(args: &Args, cx: &mut Ctx, out: bool, op: Padding) -> Outputs {
    let form = op.form(out, 3);
    args.at_most(3 + form.out_len())?;
    let (grad, x, padding) = (args.tensor(0)?, args.tensor(1)?, args.int_list(2)?);
    // libtorch's backward kernels check less than their forwards and read or write out of
    // bounds where the forward would refuse, so the forward's checks stand.
    let sizes = op.padded(x, padding)?;
    ensure!(
        grad.sizes == sizes,
        "grad_output of shape {} does not match the padded input {}",
        fmt_shape(&grad.sizes),
        fmt_shape(&sizes)
    );
    let (target, returned) = output_like(args, cx, form, &x.sizes, x)?;
    cx.k.pad_backward(op.mode, grad, x, padding, &target)
        .map_err(failed("pad_backward"))?;
    Ok(vec![returned])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run};
    use crate::types::{Arg, ScalarType};

    #[test]
    fn padding_shapes_and_checks() {
        let x = f32s(&[3, 5], 1);
        let pad = |name, padding: Vec<i64>| run(name, "", vec![arg(&x), Arg::IntList(padding)]);
        let (res, fake) = pad("reflection_pad1d", vec![2, 1]);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![3, 8], vec![8, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.kernels(), vec!["pad"]);
        let (res, _) = pad("replication_pad1d", vec![-1, 2]);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![3, 6]);
        let (res, _) = pad("reflection_pad1d", vec![5, 0]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Padding size should be less than the corresponding input dimension"));
        let (res, _) = pad("reflection_pad2d", vec![1, 1, 1, 1]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Expected 3D or 4D (batch mode) tensor"));
        let image = vec![arg(&f32s(&[1, 3, 5], 1)), Arg::IntList(vec![1, 1, 1, 1])];
        let (res, _) = run("reflection_pad2d", "", image);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![1, 5, 7]);
        let grad = f32s(&[3, 8], 2);
        let backward = vec![arg(&grad), arg(&x), Arg::IntList(vec![2, 1])];
        let (res, _) = run("reflection_pad1d_backward", "", backward);
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![3, 5]);
    }
}
