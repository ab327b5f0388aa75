//! Ops the host's libtorch computes whole, one `library` kernel each: `glu` and its backward,
//! `take`, `searchsorted`, `bucketize`. Their checks, shapes and dtypes are here.

use crate::error::{ensure, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::Pointwise;
use crate::ops::out::output;
use crate::ops::{Form, Outputs};
use crate::rules::shape::{fmt_shape, numel, wrap_dim};
use crate::types::{LibraryOp, Output, ScalarType, TensorMeta};

/// Runs `op` on `inputs` into `out`, returning `result`.
fn run(
    cx: &mut Ctx,
    op: LibraryOp,
    inputs: &[TensorMeta],
    out: TensorMeta,
    result: Output,
) -> Outputs {
    cx.k.library(op, inputs, &[out])
        .map_err(failed("library"))?;
    Ok(vec![result])
}

/// `x` along `d` from `start`, `len` long.
fn narrow(x: &TensorMeta, d: usize, start: i64, len: i64) -> TensorMeta {
    let mut part = x.clone();
    part.sizes[d] = len;
    part.storage_offset += start * x.strides[d];
    part
}

/// `glu(self, dim=-1)` and `glu.out`: the first half along `dim` times the sigmoid of the
/// second, laid out as the elementwise op of the two halves is.
pub fn glu(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let x = args.tensor(0)?;
    ensure!(
        x.dim() > 0,
        "glu does not support scalars because halving size must be even"
    );
    let d = wrap_dim(args.int_or(1, -1)?, x.dim())?;
    let n = x.sizes[d];
    ensure!(
        n % 2 == 0,
        "Halving dimension must be even, but dimension {d} is size {n}"
    );
    ensure!(
        x.dtype.is_floating(),
        "\"glu\" not implemented for '{}'",
        x.dtype.name()
    );
    let (first, second) = (narrow(x, d, 0, n / 2), narrow(x, d, n / 2, n / 2));
    let pw = Pointwise::new(vec![Value::Tensor(&first), Value::Tensor(&second)])?;
    let target = pw.target(cx, form.dest(args)?, x.dtype, true)?;
    let op = LibraryOp::Glu(d as i64);
    target.run(cx, "library", |k, out| {
        k.library(op, std::slice::from_ref(x), std::slice::from_ref(out))
    })
}

/// `glu_backward(grad_output, self, dim)` and `.grad_input`: contiguous, `self`'s shape.
pub fn glu_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (grad, x) = (args.tensor(0)?, args.tensor(1)?);
    let d = wrap_dim(args.int(2)?, x.dim())?;
    let mut half = x.sizes.clone();
    half[d] /= 2;
    ensure!(
        grad.sizes == half && x.sizes[d] % 2 == 0,
        "glu_backward: grad_output {} must be self {} halved along dim {d}",
        fmt_shape(&grad.sizes),
        fmt_shape(&x.sizes)
    );
    let (out, result) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    let inputs = [grad.clone(), x.clone()];
    run(cx, LibraryOp::GluBackward(d as i64), &inputs, out, result)
}

/// `take(self, index)` and `take.out`: `self` flattened, at the Long `index`, shaped like it.
pub fn take(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (x, index) = (args.tensor(0)?, args.tensor(1)?);
    ensure!(
        index.dtype == ScalarType::Int64,
        "take(): Expected a long tensor for index, but got {}",
        index.dtype.name()
    );
    ensure!(
        numel(&x.sizes)? > 0 || numel(&index.sizes)? == 0,
        "take(): tried to take from an empty tensor"
    );
    let (out, result) = output(cx, form.dest(args)?, &index.sizes, x.dtype)?;
    run(
        cx,
        LibraryOp::Take,
        &[x.clone(), index.clone()],
        out,
        result,
    )
}

fn index_dtype(out_int32: bool) -> ScalarType {
    if out_int32 {
        ScalarType::Int32
    } else {
        ScalarType::Int64
    }
}

/// Whether `side` and `right` say to search from the right, checked as PyTorch does.
fn search_right(side: Option<&str>, right: bool) -> Result<bool> {
    if let Some(side) = side {
        ensure!(
            side == "left" || side == "right",
            "torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
        );
        ensure!(
            !(right && side == "left"),
            "torch.searchsorted(): side and right can't be set to opposites, got side of left \
             while right was True"
        );
    }
    Ok(right || side == Some("right"))
}

/// `searchsorted.Tensor(sorted_sequence, self, *, out_int32=False, right=False, side=None,
/// sorter=None)` and `.Tensor_out`: each value's insertion index, shaped like `self`.
pub fn searchsorted(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    let (seq, values) = (args.tensor(0)?, args.tensor(1)?);
    let out_int32 = args.bool_or(2, false)?;
    let right = search_right(args.opt_str(4)?, args.bool_or(3, false)?)?;
    let sorter = args.opt_tensor(5)?;
    let leading = |t: &TensorMeta| t.sizes[..t.dim().saturating_sub(1)].to_vec();
    ensure!(
        seq.dim() == 1 || (seq.dim() == values.dim() && leading(seq) == leading(values)),
        "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 \
         dimensions of boundaries tensor and input value tensor must match, but we got \
         boundaries tensor {} and input value tensor {}",
        fmt_shape(&seq.sizes),
        fmt_shape(&values.sizes)
    );
    if let Some(sorter) = sorter {
        ensure!(
            sorter.sizes == seq.sizes && sorter.dtype == ScalarType::Int64,
            "torch.searchsorted(): sorter must be a Long tensor of the boundaries' shape {}, \
             but got {}",
            fmt_shape(&seq.sizes),
            sorter.describe()
        );
    }
    let (out, result) = output(cx, form.dest(args)?, &values.sizes, index_dtype(out_int32))?;
    let mut inputs = vec![seq.clone(), values.clone()];
    inputs.extend(sorter.cloned());
    run(
        cx,
        LibraryOp::Searchsorted((out_int32, right)),
        &inputs,
        out,
        result,
    )
}

/// `bucketize.Tensor(self, boundaries, *, out_int32=False, right=False)` and `.Tensor_out`.
pub fn bucketize(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let (values, boundaries) = (args.tensor(0)?, args.tensor(1)?);
    let out_int32 = args.bool_or(2, false)?;
    let right = args.bool_or(3, false)?;
    ensure!(
        boundaries.dim() == 1,
        "boundaries tensor must be 1 dimension, but got dim({})",
        boundaries.dim()
    );
    let (out, result) = output(cx, form.dest(args)?, &values.sizes, index_dtype(out_int32))?;
    let inputs = [values.clone(), boundaries.clone()];
    run(
        cx,
        LibraryOp::Bucketize((out_int32, right)),
        &inputs,
        out,
        result,
    )
}
