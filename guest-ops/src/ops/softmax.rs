//! `_softmax`, `_log_softmax` and their backwards.

use crate::error::{ensure, ensure_kernel};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::{Form, Outputs};
use crate::rules::shape::{fmt_shape, numel, wrap_dim};
use crate::types::ScalarType;

/// `_softmax`/`_log_softmax(self, dim, half_to_float)` and their `out=` forms.
pub fn softmax(args: &Args, cx: &mut Ctx, form: Form, log: bool) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let x = args.tensor(0)?;
    let dim = wrap_dim(args.int(1)?, x.dim())? as i64;
    ensure!(
        !args.bool_or(2, false)?,
        "softmax with half to float conversion is not supported on CPU"
    );
    // The structured kernel's meta function places the output before the kernel's dtype
    // dispatch.
    let (out, outputs) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    // The CPU has one kernel for the last dim and one for the others.
    let last = dim + 1 >= x.dim() as i64;
    // The CPU returns before its dtype dispatch for an empty input.
    let empty = numel(&x.sizes)? == 0;
    ensure_kernel!(
        empty || x.dtype.is_floating(),
        "\"{}softmax{}_kernel_impl\" not implemented for '{}'",
        if log { "log_" } else { "" },
        if last { "_lastdim" } else { "" },
        x.dtype.name()
    );
    cx.k.softmax(x, dim, log, &out).map_err(failed("softmax"))?;
    Ok(vec![outputs])
}

/// `_softmax_backward_data`/`_log_softmax_backward_data(grad_output, output, dim,
/// input_dtype)` and their `out=` forms.
pub fn softmax_backward(args: &Args, cx: &mut Ctx, form: Form, log: bool) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let (grad, y) = (args.tensor(0)?, args.tensor(1)?);
    let dim = wrap_dim(args.int(2)?, grad.dim())? as i64;
    let input_dtype = args.dtype(3)?;
    ensure!(
        grad.sizes == y.sizes,
        "Expected tensor for argument #1 'grad' to have same size as tensor for argument #2 \
         'output'; but {} does not equal {} (while checking arguments for softmax_backward)",
        fmt_shape(&grad.sizes),
        fmt_shape(&y.sizes)
    );
    // Only a float gradient of a half input comes back as half (CUDA's half_to_float).
    let dtype = if grad.dtype == ScalarType::Float32 && input_dtype == ScalarType::Float16 {
        ScalarType::Float16
    } else {
        grad.dtype
    };
    let (out, outputs) = output(cx, form.dest(args)?, &grad.sizes, dtype)?;
    cx.k.softmax_backward(grad, y, dim, log, &out)
        .map_err(failed("softmax_backward"))?;
    Ok(vec![outputs])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    #[test]
    fn log_softmax_forms() {
        // _log_softmax(empty(3, 4).t(), 0, False) is contiguous
        let mut xt = f32s(&[4, 3], 1);
        xt.strides = vec![1, 4];
        let (res, fake) = run(
            "_log_softmax",
            "",
            vec![arg(&xt), Arg::Integer(-2), Arg::Boolean(false)],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 3], vec![3, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.calls[0].detail, "0 true");
        let out = f32s(&[4, 3], 2);
        let (res, _) = run(
            "_log_softmax",
            "out",
            vec![arg(&xt), Arg::Integer(1), Arg::Boolean(false), arg(&out)],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(3)]);
        let (res, _) = run(
            "_softmax",
            "",
            vec![arg(&xt), Arg::Integer(2), Arg::Boolean(false)],
        );
        assert!(res.unwrap_err().message.contains("Dimension out of range"));
        let half = tensor(&[3], ScalarType::Float16, 3);
        let (res, _) = run(
            "_softmax",
            "",
            vec![arg(&half), Arg::Integer(0), Arg::Boolean(true)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("softmax with half to float conversion is not supported on CPU"));
        let (res, _) = run(
            "_log_softmax",
            "",
            vec![
                arg(&tensor(&[3], ScalarType::Int64, 4)),
                Arg::Integer(0),
                Arg::Boolean(false),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'"));
    }

    #[test]
    fn softmax_backward_dtype_and_shapes() {
        let (g, y) = (f32s(&[3, 4], 1), f32s(&[3, 4], 2));
        let args = vec![
            arg(&g),
            arg(&y),
            Arg::Integer(1),
            Arg::Dtype(ScalarType::Float16),
        ];
        let (res, fake) = run("_softmax_backward_data", "", args);
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float16);
        assert_eq!(fake.calls[0].detail, "1 false");
        let args = vec![
            arg(&g),
            arg(&f32s(&[3, 5], 2)),
            Arg::Integer(1),
            Arg::Dtype(ScalarType::Float32),
        ];
        let (res, _) = run("_log_softmax_backward_data", "", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("but [3, 4] does not equal [3, 5]"));
    }
}
