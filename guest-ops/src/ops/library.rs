//! Ops the host's libtorch computes whole, one `library` kernel each: `glu` and its backward,
//! `take`, `put_`, `searchsorted`, `bucketize`, `isin`, `im2col`/`col2im` (`F.unfold`/
//! `F.fold`), `max_unpool2d`/`3d`, `tril_indices`/`triu_indices`, `renorm`,
//! `kaiser_window`. Their checks, shapes and dtypes are here.

use crate::error::{ensure, ensure_index, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::factory::check_factory_placement;
use crate::ops::iter::Pointwise;
use crate::ops::out::{output, output_like};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dtype::{check_same_dtype, default_float, scalar_dtype};
use crate::rules::layout::is_contiguous;
use crate::rules::overlap::{check_internal, check_none};
use crate::rules::shape::{broadcast_all, fmt_shape, numel, wrap_dim};
use crate::types::{IsinParams, LibraryOp, Output, Scalar, ScalarType, TensorMeta};

/// Runs `op` on `inputs` into `out`, returning `result`.
pub fn run(
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

/// Runs `op` on `inputs` into the fresh tensors `outs`, and returns them.
pub fn launch(
    cx: &mut Ctx,
    op: LibraryOp,
    inputs: &[TensorMeta],
    outs: Vec<TensorMeta>,
) -> Outputs {
    cx.k.library(op, inputs, &outs).map_err(failed("library"))?;
    Ok(outs.into_iter().map(Output::Tensor).collect())
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
    ensure_kernel!(
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
    ensure!(x.dim() > 0, "glu does not support 0-dimensional tensors");
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

/// `glu_jvp(glu, x, dx, dim)`: `glu`'s forward-mode derivative, laid out like `glu`, from
/// `x` and its tangent `dx`, which `glu` halves along `dim`.
pub fn glu_jvp(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (glu, x, dx) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    ensure!(x.dim() > 0, "glu does not support 0-dimensional tensors");
    let d = wrap_dim(args.int(3)?, x.dim())?;
    let mut half = x.sizes.clone();
    half[d] /= 2;
    ensure!(
        dx.sizes == x.sizes && glu.sizes == half && x.sizes[d] % 2 == 0,
        "glu_jvp: glu {} must be x {} (and its tangent {}) halved along dim {d}",
        fmt_shape(&glu.sizes),
        fmt_shape(&x.sizes),
        fmt_shape(&dx.sizes)
    );
    check_same_dtype(glu.dtype, &[x, dx])?;
    ensure_kernel!(
        glu.dtype.is_floating(),
        "\"glu_jvp\" not implemented for '{}'",
        glu.dtype.name()
    );
    let out = cx.empty_like(glu)?;
    let inputs = [glu.clone(), x.clone(), dx.clone()];
    let op = LibraryOp::GluJvp(d as i64);
    run(cx, op, &inputs, out.clone(), Output::Tensor(out))
}

/// `_dirichlet_grad(x, alpha, total)`: one float or double TensorIterator over the three,
/// contiguous, of their broadcast shape (`Beta` and `Dirichlet` `rsample`'s backward).
pub fn dirichlet_grad(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (x, alpha, total) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check_same_dtype(x.dtype, &[alpha, total])?;
    ensure_kernel!(
        matches!(x.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"_dirichlet_grad_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    let shape = broadcast_all([&x.sizes[..], &alpha.sizes, &total.sizes])?;
    let out = cx.empty_contiguous(&shape, x.dtype)?;
    let inputs = [x.clone(), alpha.clone(), total.clone()];
    run(
        cx,
        LibraryOp::DirichletGrad,
        &inputs,
        out.clone(),
        Output::Tensor(out),
    )
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
    check_none(&out, index)?;
    check_none(&out, x)?;
    run(
        cx,
        LibraryOp::Take,
        &[x.clone(), index.clone()],
        out,
        result,
    )
}

/// `put_(self, index, source, accumulate=False)`: `source` written (or added) at the flat
/// Long `index` of `self`, in place.
pub fn put(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (x, index, source) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let accumulate = args.bool_or(3, false)?;
    // Duplicate indices leave any one of their values: the CPU alerts, before any check.
    if !accumulate {
        cx.alert_not_deterministic("put_")?;
    }
    ensure!(
        index.dtype == ScalarType::Int64,
        "put_(): Expected a long tensor for index, but got {}",
        index.dtype.name()
    );
    ensure!(
        source.dtype == x.dtype,
        "put_(): self and source expected to have the same dtype, but got self.dtype = {} and \
         source.dtype = {}",
        x.dtype.name(),
        source.dtype.name()
    );
    let (n_index, n_source) = (numel(&index.sizes)?, numel(&source.sizes)?);
    ensure_index!(
        n_index == n_source,
        "put_(): Expected source and index to have the same number of elements, but got \
         source.numel() = {n_source}, index.numel() = {n_index}"
    );
    ensure!(
        numel(&x.sizes)? > 0 || n_index == 0,
        "put_(): Tried to put elements into an empty tensor"
    );
    check_internal(x)?;
    check_none(x, index)?;
    check_none(x, source)?;
    let inputs = [x.clone(), index.clone(), source.clone()];
    run(
        cx,
        LibraryOp::Put(accumulate),
        &inputs,
        x.clone(),
        Output::Argument(0),
    )
}

/// The inputs of `_prelu_kernel` and its backward, which must share one dtype.
fn prelu_inputs<'a>(tensors: &[&'a TensorMeta]) -> Result<Pointwise<'a>> {
    check_same_dtype(tensors[0].dtype, &tensors[1..])?;
    ensure_kernel!(
        tensors[0].dtype.is_floating(),
        "\"prelu_cpu\" not implemented for '{}'",
        tensors[0].dtype.name()
    );
    Pointwise::new(tensors.iter().map(|t| Value::Tensor(t)).collect())
}

/// `_prelu_kernel(self, weight)`: `self > 0 ? self : weight * self`, broadcast.
pub fn prelu(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (x, weight) = (args.tensor(0)?, args.tensor(1)?);
    let pw = prelu_inputs(&[x, weight])?;
    let out = pw.target(cx, Dest::New, x.dtype, true)?.out;
    let inputs = [x.clone(), weight.clone()];
    run(
        cx,
        LibraryOp::Prelu,
        &inputs,
        out.clone(),
        Output::Tensor(out),
    )
}

/// `_prelu_kernel_backward(grad_output, self, weight)`: both gradients, broadcast, laid out
/// alike.
pub fn prelu_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (grad, x, weight) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let pw = prelu_inputs(&[x, weight, grad])?;
    let dx = pw.target(cx, Dest::New, x.dtype, true)?.out;
    let dw = pw.target(cx, Dest::New, x.dtype, true)?.out;
    let inputs = [grad.clone(), x.clone(), weight.clone()];
    cx.k.library(LibraryOp::PreluBackward, &inputs, &[dx.clone(), dw.clone()])
        .map_err(failed("library"))?;
    Ok(vec![Output::Tensor(dx), Output::Tensor(dw)])
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

/// `searchsorted`'s check of an `out=` tensor's dtype, which `out_int32` picks.
fn check_index_out(dest: Dest, out_int32: bool) -> Result<()> {
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == index_dtype(out_int32),
            "torch.searchsorted(): output tensor's dtype is wrong, it can only be Int(int32) or \
             Long(int64) depending on whether out_int32 flag is True, but we got output \
             tensor's dtype {} and out_int32 flag is {}",
            out.dtype.name(),
            if out_int32 { "True" } else { "False" }
        );
    }
    Ok(())
}

/// The CPU searches any dtypes but two bool ones.
fn check_searchable(seq: &TensorMeta, values: &TensorMeta) -> Result<()> {
    ensure_kernel!(
        seq.dtype != ScalarType::Bool || values.dtype != ScalarType::Bool,
        "\"searchsorted_out_cpu\" not implemented for 'Bool'"
    );
    Ok(())
}

/// `searchsorted.Tensor(sorted_sequence, self, *, out_int32=False, right=False, side=None,
/// sorter=None)` and `.Tensor_out`: each value's insertion index, shaped like `self`.
pub fn searchsorted(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    search(args, cx, form, args.tensor(1)?)
}

/// `searchsorted.Scalar(sorted_sequence, self, ...)` and `.Scalar_out`: the insertion index
/// of one number, 0-dim; PyTorch wraps the number in a tensor of its own dtype.
pub fn searchsorted_scalar(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    let value = args.scalar(1)?;
    let number = cx.empty_contiguous(&[], scalar_dtype(value))?;
    cx.k.fill(&number, value).map_err(failed("fill"))?;
    let outputs = search(args, cx, form, &number);
    cx.free(&number);
    outputs
}

/// `searchsorted` of `values` in the sorted sequence of argument 0, with the options that
/// follow argument 1.
fn search(args: &Args, cx: &mut Ctx, form: Form, values: &TensorMeta) -> Outputs {
    let seq = args.tensor(0)?;
    let out_int32 = args.bool_or(2, false)?;
    let right = search_right(args.opt_str(4)?, args.bool_or(3, false)?)?;
    let sorter = args.opt_tensor(5)?;
    if let Some(sorter) = sorter {
        // The CPU's message lacks the space before "and".
        ensure!(
            sorter.sizes == seq.sizes,
            "torch.searchsorted(): boundary and sorter must have the same size, but got \
             boundary tensor {}and got sorter tensor {}",
            fmt_shape(&seq.sizes),
            fmt_shape(&sorter.sizes)
        );
        ensure!(
            sorter.dtype == ScalarType::Int64,
            "torch.searchsorted(): sorter must be a tensor of long dtype but got dtype {}",
            sorter.dtype.name()
        );
    }
    ensure!(
        values.dim() > 0 || seq.dim() == 1,
        "torch.searchsorted(): input value can be a scalar only when boundaries tensor \
         dimension is 1, but we got boundaries tensor dim({}) and input value's dim(0) \
         numel(1)",
        seq.dim()
    );
    ensure!(
        seq.dim() != 0,
        "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 \
         dimension"
    );
    let leading = |t: &TensorMeta| t.sizes[..t.dim().saturating_sub(1)].to_vec();
    ensure!(
        seq.dim() == 1 || (seq.dim() == values.dim() && leading(seq) == leading(values)),
        "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 \
         dimensions of boundaries tensor and input value tensor must match, but we got \
         boundaries tensor {} and input value tensor {}",
        fmt_shape(&seq.sizes),
        fmt_shape(&values.sizes)
    );
    check_index_out(form.dest(args)?, out_int32)?;
    check_searchable(seq, values)?;
    warn_non_contiguous(
        cx,
        values,
        &[
            ("input value", Some(values)),
            ("boundary", Some(seq)),
            ("sorter", sorter),
        ],
    );
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

/// The warnings `searchsorted` and `bucketize` give for the inputs they copy to make them
/// contiguous.
fn warn_non_contiguous(cx: &mut Ctx, values: &TensorMeta, inputs: &[(&str, Option<&TensorMeta>)]) {
    // The CPU returns before it copies anything when there are no values to search.
    if values.sizes.contains(&0) {
        return;
    }
    for &(what, t) in inputs {
        if t.is_some_and(|t| !is_contiguous(&t.sizes, &t.strides)) {
            cx.warn_once(format!(
                "torch.searchsorted(): {what} tensor is non-contiguous, this will lower the \
                 performance due to extra data copy when converting non-contiguous tensor to \
                 contiguous, please use contiguous {what} tensor if possible. This message \
                 will only appear once per program."
            ));
        }
    }
}

/// `bucketize.Tensor(self, boundaries, *, out_int32=False, right=False)` and `.Tensor_out`.
pub fn bucketize(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    bucket(args, cx, form, args.tensor(0)?)
}

/// `bucketize.Scalar(self, boundaries, *, out_int32=False, right=False)`: the bucket of one
/// number, 0-dim; PyTorch wraps the number in a tensor of its own dtype.
pub fn bucketize_scalar(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let value = args.scalar(0)?;
    let number = cx.empty_contiguous(&[], scalar_dtype(value))?;
    cx.k.fill(&number, value).map_err(failed("fill"))?;
    let outputs = bucket(args, cx, Form::Functional, &number);
    cx.free(&number);
    outputs
}

/// `bucketize` of `values` in the boundaries of argument 1, with the options that follow.
fn bucket(args: &Args, cx: &mut Ctx, form: Form, values: &TensorMeta) -> Outputs {
    let boundaries = args.tensor(1)?;
    let out_int32 = args.bool_or(2, false)?;
    let right = args.bool_or(3, false)?;
    ensure!(
        boundaries.dim() == 1,
        "boundaries tensor must be 1 dimension, but got dim({})",
        boundaries.dim()
    );
    check_index_out(form.dest(args)?, out_int32)?;
    check_searchable(boundaries, values)?;
    warn_non_contiguous(
        cx,
        values,
        &[
            ("input value", Some(values)),
            ("boundary", Some(boundaries)),
        ],
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

/// One side of `isin`: its tensor, or the number standing in for one, with its dtype
/// checked as PyTorch's sort-based kernel needs.
fn isin_side<'a>(args: &Args<'a>, i: usize) -> Result<(Option<&'a TensorMeta>, Option<Scalar>)> {
    let (side, dtype) = match args.value(i)? {
        Value::Tensor(t) => ((Some(t), None), t.dtype),
        Value::Number(n) => ((None, Some(n)), scalar_dtype(n)),
    };
    ensure!(
        dtype != ScalarType::Bool,
        "Unsupported input type encountered for isin(): Bool"
    );
    Ok(side)
}

/// `isin.Tensor_Tensor(elements, test_elements, *, assume_unique=False, invert=False)`,
/// `.Tensor_Scalar`, `.Scalar_Tensor` and their `out=` forms: whether each element is among
/// the test elements, a contiguous bool tensor of the elements' shape.
pub fn isin(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let (elements, element) = isin_side(args, 0)?;
    let (tests, test_element) = isin_side(args, 1)?;
    let sizes = elements.map_or(&[][..], |t| &t.sizes[..]);
    let (out, result) = output(cx, form.dest(args)?, sizes, ScalarType::Bool)?;
    let params = IsinParams {
        assume_unique: args.bool_or(2, false)?,
        invert: args.bool_or(3, false)?,
        element,
        test_element,
    };
    let inputs: Vec<TensorMeta> = elements.into_iter().chain(tests).cloned().collect();
    run(cx, LibraryOp::Isin(params), &inputs, out, result)
}

/// `max_unpool2d(self, indices, output_size)` and `max_unpool3d(self, indices, output_size,
/// stride, padding)` (`dims` 2 or 3), and their `out=` forms: each value put at its flat
/// index in a zeroed `output_size` plane.
pub fn max_unpool(args: &Args, cx: &mut Ctx, form: Form, dims: usize) -> Outputs {
    let op = format!("max_unpooling{dims}d");
    let three = dims == 3;
    args.at_most(if three { 5 } else { 3 } + form.out_len())?;
    let (x, indices) = (args.tensor(0)?, args.tensor(1)?);
    // Duplicate indices leave any one of their values, on every device.
    cx.alert_not_deterministic(&format!("{op}_forward_out"))?;
    ensure!(
        indices.dtype == ScalarType::Int64,
        "elements in indices should be type int64 but got: {}",
        indices.dtype.name()
    );
    let size = args.int_list(2)?.to_vec();
    let names = if three {
        "three elements (depth, height, width)"
    } else {
        "two elements (height, width)"
    };
    ensure!(
        size.len() == dims,
        "There should be exactly {names} in output_size, but got {} elements.",
        size.len()
    );
    ensure!(
        x.dim() == dims + 1 || x.dim() == dims + 2,
        "Input to {op} should be a {}d or {}d Tensor, but got a tensor with {} dimensions.",
        dims + 1,
        dims + 2,
        x.dim()
    );
    ensure!(
        x.sizes == indices.sizes,
        "Expected shape of indices to be same as that of the input tensor ({}) but got indices \
         tensor with shape: {}",
        fmt_shape(&x.sizes),
        fmt_shape(&indices.sizes)
    );
    if let Some(d) = (1..x.dim()).find(|&d| x.sizes[d] <= 0) {
        return Err(crate::error::Error::invalid(format!(
            "{op}_forward_out_cpu(): Expected input to have non-zero size for non-batch \
             dimensions, but got {} with dimension {d} being empty.",
            fmt_shape(&x.sizes)
        )));
    }
    let (stride, padding) = if three {
        let (stride, padding) = (args.int_list(3)?.to_vec(), args.int_list(4)?.to_vec());
        for (what, list) in [("stride", &stride), ("padding", &padding)] {
            ensure!(
                list.len() == 3,
                "There should be exactly three elements (depth, height, width) in {what}, but \
                 got: {} elements.",
                list.len()
            );
        }
        ensure!(
            stride.iter().all(|&s| s > 0),
            "strides should be greater than zero, but got stride: {}",
            fmt_shape(&stride)
        );
        (stride, padding)
    } else {
        (Vec::new(), Vec::new())
    };
    ensure_kernel!(
        !x.dtype.is_integral(true),
        "\"max_unpool{dims}d\" not implemented for '{}'",
        x.dtype.name()
    );
    let mut shape = x.sizes[..x.dim() - dims].to_vec();
    shape.extend(&size);
    // The CPU kernels keep a channels-last 2-d input's format, not a 3-d one's.
    let (out, result) = if three {
        output(cx, form.dest(args)?, &shape, x.dtype)?
    } else {
        output_like(args, cx, form, &shape, x)?
    };
    let inputs = [x.clone(), indices.clone()];
    run(
        cx,
        LibraryOp::MaxUnpool((size, stride, padding)),
        &inputs,
        out,
        result,
    )
}

/// `im2col`'s and `col2im`'s window geometry, each two long and checked.
struct Windows {
    kernel: Vec<i64>,
    dilation: Vec<i64>,
    padding: Vec<i64>,
    stride: Vec<i64>,
}

impl Windows {
    fn parse(args: &Args, at: usize) -> Result<Self> {
        let list = |i: usize, what: &str| -> Result<Vec<i64>> {
            let v = args.int_list(at + i)?.to_vec();
            ensure!(
                v.len() == 2,
                "It is expected {what} equals to 2, but got size {}",
                v.len()
            );
            Ok(v)
        };
        let w = Windows {
            kernel: list(0, "kernel_size")?,
            dilation: list(1, "dilation")?,
            padding: list(2, "padding")?,
            stride: list(3, "stride")?,
        };
        let (k, d, p, s) = (&w.kernel, &w.dilation, &w.padding, &w.stride);
        ensure!(
            k[0] > 0 && k[1] > 0,
            "kernel size should be greater than zero, but got kernel_height: {} kernel_width: {}",
            k[0],
            k[1]
        );
        ensure!(
            d[0] > 0 && d[1] > 0,
            "dilation should be greater than zero, but got dilation_height: {} dilation_width: {}",
            d[0],
            d[1]
        );
        ensure!(
            p[0] >= 0 && p[1] >= 0,
            "padding should be non-negative, but got pad_height: {} pad_width: {}",
            p[0],
            p[1]
        );
        ensure!(
            s[0] > 0 && s[1] > 0,
            "stride should be greater than zero, but got dH: {} dW: {}",
            s[0],
            s[1]
        );
        Ok(w)
    }

    /// Sliding blocks along each of the two spatial dims of `size`.
    fn blocks(&self, size: &[i64]) -> [i64; 2] {
        [0, 1].map(|i| {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (size[i] + 2 * self.padding[i] - span).div_euclid(self.stride[i]) + 1
        })
    }

    fn describe(&self) -> String {
        let pair = |v: &[i64]| format!("({}, {})", v[0], v[1]);
        format!(
            "kernel_size={}, dilation={}, padding={}, stride={}",
            pair(&self.kernel),
            pair(&self.dilation),
            pair(&self.padding),
            pair(&self.stride)
        )
    }

    fn op(self, output_size: Option<Vec<i64>>) -> LibraryOp {
        let Windows {
            kernel,
            dilation,
            padding,
            stride,
        } = self;
        match output_size {
            None => LibraryOp::Im2col((kernel, dilation, padding, stride)),
            Some(size) => LibraryOp::Col2im((size, kernel, dilation, padding, stride)),
        }
    }
}

/// `im2col(self, kernel_size, dilation, padding, stride)` and `.out`: `[N, C*kh*kw, L]` (no
/// `N` for a 3-d input), contiguous.
pub fn im2col(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let x = args.tensor(0)?;
    let w = Windows::parse(args, 1)?;
    let dims_ok = (x.dim() == 3 || x.dim() == 4) && x.sizes[x.dim() - 3..].iter().all(|&s| s > 0);
    ensure!(
        dims_ok,
        "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero \
         dimensions for input, but got: {}",
        fmt_shape(&x.sizes)
    );
    let spatial = &x.sizes[x.dim() - 2..];
    let [bh, bw] = w.blocks(spatial);
    ensure!(
        bh >= 1 && bw >= 1,
        "Given input with spatial size ({}, {}), {}, calculated shape of the array of sliding \
         blocks as ({bh}, {bw}), but its components must be at least one.",
        spatial[0],
        spatial[1],
        w.describe()
    );
    ensure_kernel!(
        !x.dtype.is_integral(false),
        "\"im2col_out_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    let planes = x.sizes[x.dim() - 3] * w.kernel[0] * w.kernel[1];
    let mut shape = x.sizes[..x.dim() - 3].to_vec();
    shape.extend([planes, bh * bw]);
    let (out, result) = output(cx, form.dest(args)?, &shape, x.dtype)?;
    run(cx, w.op(None), std::slice::from_ref(x), out, result)
}

/// `col2im(self, output_size, kernel_size, dilation, padding, stride)` and `.out`: the
/// blocks summed back into `[N, C, H, W]` (no `N` for a 2-d input), contiguous.
pub fn col2im(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    let x = args.tensor(0)?;
    let size = args.int_list(1)?.to_vec();
    ensure!(
        size.len() == 2,
        "It is expected output_size equals to 2, but got size {}",
        size.len()
    );
    let w = Windows::parse(args, 2)?;
    let dims_ok = (x.dim() == 2 || x.dim() == 3) && x.sizes[x.dim() - 2..].iter().all(|&s| s > 0);
    ensure!(
        dims_ok,
        "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero \
         dimensions for input, but got: {}",
        fmt_shape(&x.sizes)
    );
    let (planes, blocks) = (x.sizes[x.dim() - 2], x.sizes[x.dim() - 1]);
    let per_plane = w.kernel[0] * w.kernel[1];
    ensure!(
        planes % per_plane == 0,
        "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but \
         got input.size(1)={planes} and kernel_size=({}, {}).",
        w.kernel[0],
        w.kernel[1]
    );
    let [bh, bw] = w.blocks(&size);
    ensure!(
        bh >= 1 && bw >= 1 && blocks == bh * bw,
        "Given output_size=({}, {}), {}, expected size of input's dimension 2 to match the \
         calculated number of sliding blocks {bh} * {bw} = {}, but got input.size(2)={blocks}.",
        size[0],
        size[1],
        w.describe(),
        bh * bw
    );
    let mut shape = x.sizes[..x.dim() - 2].to_vec();
    shape.extend([planes / per_plane, size[0], size[1]]);
    let (out, result) = output(cx, form.dest(args)?, &shape, x.dtype)?;
    run(cx, w.op(Some(size)), std::slice::from_ref(x), out, result)
}

/// `tril_indices(row, col, offset=0, *, dtype=long, layout, device, pin_memory)` and, with
/// `upper`, `triu_indices`: the `[2, count]` coordinates of the triangle.
pub fn tri_indices(args: &Args, cx: &mut Ctx, upper: bool) -> Outputs {
    args.at_most(7)?;
    let (row, col) = (args.int(0)?, args.int(1)?);
    let offset = args.int_or(2, 0)?;
    let dtype = args.opt_dtype(3)?.unwrap_or(ScalarType::Int64);
    check_factory_placement(args, 4, 5)?;
    ensure!(row >= 0, "row must be non-negative, got{row}");
    ensure!(col >= 0, "col must be non-negative, got{col}");
    ensure_kernel!(
        matches!(dtype, ScalarType::Int32 | ScalarType::Int64),
        "\"{}\" not implemented for '{}'",
        if upper {
            "triu_indices"
        } else {
            "tril_indices"
        },
        dtype.name()
    );
    let count = if upper {
        i128::from(row) * i128::from(col) - tril_size(row, col, i128::from(offset) - 1)
    } else {
        tril_size(row, col, offset.into())
    };
    let count = i64::try_from(count).map_err(|_| {
        Error::invalid(format!(
            "Trying to create tensor with negative dimension {}: [2, {}]",
            count as i64, count as i64
        ))
    })?;
    let out = cx.empty_contiguous(&[2, count], dtype)?;
    let op = if upper {
        LibraryOp::TriuIndices((row, col, offset))
    } else {
        LibraryOp::TrilIndices((row, col, offset))
    };
    run(cx, op, &[], out.clone(), Output::Tensor(out))
}

/// `get_tril_size`: the elements of a `row` x `col` lower triangle from diagonal `offset`,
/// in closed form (a top trapezoid and a rectangle under it), wide enough not to overflow.
fn tril_size(row: i64, col: i64, offset: i128) -> i128 {
    let (row, col) = (i128::from(row), i128::from(col));
    if row == 0 || col == 0 {
        return 0;
    }
    let first = if offset > 0 {
        col.min(1 + offset)
    } else {
        i128::from(row + offset > 0)
    };
    let last = col.min(row + offset).max(0);
    let rows = row.min(row + offset).max(0);
    let trapezoid = last - first + 1;
    let below = (rows - trapezoid).max(0);
    (first + last) * trapezoid / 2 + below * col
}

/// `renorm(self, p, dim, maxnorm)`, `renorm_` and `renorm.out`: each slice along `dim` whose
/// `p`-norm exceeds `maxnorm` scaled down to it; a contiguous result of `self`'s dtype.
pub fn renorm(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let x = args.tensor(0)?;
    let real = |i: usize, what: &str| match args.scalar(i)? {
        Scalar::Integer(v) => Ok(v as f64),
        Scalar::Float(v) => Ok(v),
        Scalar::Boolean(v) => Ok(f64::from(u8::from(v))),
        Scalar::Complex(_) => Err(Error::invalid(format!(
            "renorm: {what} must be real-valued"
        ))),
    };
    let (p, maxnorm) = (real(1, "p")?, real(3, "maxnorm")?);
    let at_least = |v: f64, lo: f64| v.partial_cmp(&lo).is_some_and(|o| o.is_ge());
    ensure!(
        at_least(p, 0.0) && p != 0.0,
        "renorm: non-positive-norm not supported"
    );
    ensure!(
        at_least(maxnorm, 0.0),
        "renorm: expected maxnorm to be >= 0 but got {maxnorm}"
    );
    ensure!(
        x.dim() > 1,
        "renorm: input needs at least 2 dimensions, got {} dimensions",
        x.dim()
    );
    // The CPU's renorm takes the norms with `linalg.vector_norm`, whose check this is.
    ensure!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
        x.dtype.name()
    );
    let dim = wrap_dim(args.int(2)?, x.dim())? as i64;
    let (out, result) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    run(
        cx,
        LibraryOp::Renorm((p, dim, maxnorm)),
        std::slice::from_ref(x),
        out,
        result,
    )
}

/// `kaiser_window(window_length, *, dtype, layout, device, pin_memory)`, and with `periodic`
/// (and `beta`) after the length: `params` is how many of the three come before `dtype`.
pub fn kaiser_window(args: &Args, cx: &mut Ctx, params: usize) -> Outputs {
    args.at_most(params + 4)?;
    let length = args.int(0)?;
    let periodic = params < 2 || args.bool_or(1, true)?;
    let beta = if params > 2 {
        args.float_or(2, 12.0)?
    } else {
        12.0
    };
    let dtype = args.opt_dtype(params)?.unwrap_or_else(default_float);
    check_factory_placement(args, params + 1, params + 2)?;
    ensure!(
        length >= 0,
        "kaiser_window requires non-negative window_length, got window_length={length}"
    );
    ensure!(
        dtype.is_floating(),
        "kaiser_window expects floating point dtypes, got: {}",
        dtype.name()
    );
    let out = cx.empty_contiguous(&[length], dtype)?;
    let op = LibraryOp::KaiserWindow((periodic, beta));
    run(cx, op, &[], out.clone(), Output::Tensor(out))
}

#[cfg(test)]
mod tests {
    use super::tril_size;
    use crate::ops::testing::{meta, run};
    use crate::types::Arg;

    #[test]
    fn tril_size_counts_the_triangle() {
        for (row, col) in [(0, 3), (1, 1), (3, 3), (4, 2), (2, 5)] {
            for offset in -6..7 {
                let brute: i64 = (0..row).map(|i| (i + offset + 1).clamp(0, col)).sum();
                assert_eq!(tril_size(row, col, offset.into()), i128::from(brute));
            }
        }
    }

    #[test]
    fn huge_triangles_are_counted_at_once_or_refused() {
        let args = |row: i64, col: i64| vec![Arg::Integer(row), Arg::Integer(col)];
        let (res, _) = run("tril_indices", "", args(1 << 40, 2));
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, (1 << 41) - 1]);
        let (res, _) = run("triu_indices", "", args(i64::MAX, 1 << 31));
        assert!(res.unwrap_err().message.contains("overflows"));
        let (res, _) = run("tril_indices", "", args(i64::MAX, i64::MAX));
        assert!(res
            .unwrap_err()
            .message
            .contains("Trying to create tensor with negative dimension"));
    }
}
