//! Ops that read or write along a dim at given indices: `index_select`, `gather`, `scatter`,
//! `scatter_add`, `index_add`, `masked_fill` and `embedding_dense_backward`.

use crate::error::{ensure, ensure_index, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::out::output;
use crate::ops::tensor_arg::{check_scalar_types, TensorArg, INDEX_TYPES};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims::expand;
use crate::rules::dtype::checked_number;
use crate::rules::overlap::{check_internal, check_none, check_partial};
use crate::rules::shape::{broadcast, fmt_shape, numel, wrap_dim};
use crate::types::{GatherOp, Operand, Output, Scalar, ScalarType, ScatterOp, TensorMeta};

pub fn is_index(dtype: ScalarType) -> bool {
    matches!(dtype, ScalarType::Int64 | ScalarType::Int32)
}

/// `index_select(self, dim, index)` and `index_select.out`.
pub fn index_select(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (x, index) = (args.tensor(0)?, args.tensor(2)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    ensure_index!(
        index.dim() <= 1,
        "index_select(): Index is supposed to be a vector"
    );
    ensure!(
        is_index(index.dtype),
        "index_select(): Expected dtype int32 or int64 for index"
    );
    let n = numel(&index.sizes)?;
    let mut shape = x.sizes.clone();
    if x.dim() == 0 {
        ensure!(
            n == 1,
            "index_select(): Index to scalar can have only 1 value, got {n} value(s)"
        );
    } else {
        shape[d] = n;
    }
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        // Before the resize, which would make it dense.
        check_internal(out)?;
        ensure!(
            out.dtype == x.dtype,
            "index_select(): self and result must have the same scalar type"
        );
    }
    let (out, outputs) = output(cx, dest, &shape, x.dtype)?;
    check_none(&out, x)?;
    check_none(&out, index)?;
    cx.k.gather(GatherOp::IndexSelect, x, d as i64, index, &out)
        .map_err(failed("gather"))?;
    Ok(vec![outputs])
}

/// `gather(self, dim, index, *, sparse_grad=False)` and `gather.out`.
pub fn gather(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let (x, index) = (args.tensor(0)?, args.tensor(2)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    // As on PyTorch's CPU, an empty index may have any dtype and rank.
    if numel(&index.sizes)? > 0 {
        ensure!(
            is_index(index.dtype),
            "gather(): Expected dtype int32/int64 for index"
        );
        ensure!(
            index.dim().max(1) == x.dim().max(1),
            "Index tensor must have the same number of dimensions as input tensor"
        );
        for k in (0..x.dim()).filter(|k| *k != d) {
            ensure!(
                index.sizes[k] <= x.sizes[k],
                "Size does not match at dimension {k} expected index {} to be no larger than \
                 self {} apart from dimension {d}",
                fmt_shape(&index.sizes),
                fmt_shape(&x.sizes)
            );
        }
    }
    let (out, outputs) = output(cx, form.dest(args)?, &index.sizes, x.dtype)?;
    check_none(&out, x)?;
    check_partial(&out, index)?;
    cx.k.gather(GatherOp::Gather, x, d as i64, index, &out)
        .map_err(failed("gather"))?;
    Ok(vec![outputs])
}

/// `scatter.src`/`scatter.value(self, dim, index, src|value)` and `scatter_add(self, dim,
/// index, src)` in their functional, in-place and `out=` forms.
pub fn scatter(args: &Args, cx: &mut Ctx, form: Form, op: ScatterOp) -> Outputs {
    args.at_most(4 + form.out_len())?;
    scatter_with(args, cx, form, op)
}

/// `scatter.reduce(self, dim, index, src, *, reduce)` and `scatter.value_reduce`: `src`
/// added into or multiplied into `self` at `index`.
pub fn scatter_reduce_named(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let op = match args.str(4)? {
        "add" => ScatterOp::Add,
        "multiply" => ScatterOp::Multiply,
        _ => {
            return Err(Error::invalid(
                "reduce argument must be either add or multiply.",
            ))
        }
    };
    if let Value::Tensor(_) = args.value(3)? {
        cx.warn_once(
            "The reduce argument of torch.scatter with Tensor src is deprecated and will be \
             removed in a future PyTorch release. Use torch.scatter_reduce instead for more \
             reduction options.",
        );
    }
    scatter_with(args, cx, form, op)
}

fn scatter_with(args: &Args, cx: &mut Ctx, form: Form, op: ScatterOp) -> Outputs {
    let (x, index) = (args.tensor(0)?, args.tensor(2)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    let src = args.value(3)?;
    // As on PyTorch's CPU, an empty index may have any dtype (gather's backward passes one).
    ensure!(
        is_index(index.dtype) || numel(&index.sizes)? == 0,
        "scatter(): Expected dtype int32/int64 for index"
    );
    match src {
        Value::Tensor(s) => ensure!(
            s.dtype == x.dtype,
            "scatter(): Expected self.dtype to be equal to src.dtype"
        ),
        Value::Number(value) => {
            checked_number(value, x.dtype)?;
        }
    }
    check_scatter_shapes(x, d, index, src)?;
    let (out, outputs) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    match src {
        Value::Tensor(s) => check_write_apart(&out, &[index, s])?,
        Value::Number(_) => check_write_apart(&out, &[index])?,
    }
    check_partial(&out, x)?;
    let src = operand(src);
    cx.k.scatter(op, x, d as i64, index, &src, Scalar::Integer(1), &out)
        .map_err(failed("scatter"))?;
    Ok(vec![outputs])
}

/// `scatter_shape_check`: `index` fits `self` (but along `d`) and `src`.
pub fn check_scatter_shapes(
    x: &TensorMeta,
    d: usize,
    index: &TensorMeta,
    src: Value,
) -> Result<()> {
    if numel(&index.sizes)? == 0 {
        return Ok(());
    }
    ensure!(
        index.dim().max(1) == x.dim().max(1),
        "Index tensor must have the same number of dimensions as self tensor"
    );
    let src = match src {
        Value::Tensor(s) => Some(s),
        Value::Number(_) => None,
    };
    // `ensure_nonempty_size`: a 0-dim tensor has one dim of size 1; past a tensor's dims,
    // an IndexError.
    let size = |t: &TensorMeta, k: usize| -> Result<i64> {
        if t.dim() == 0 {
            return Ok(1);
        }
        wrap_dim(k as i64, t.dim()).map(|k| t.sizes[k])
    };
    let dims = x.dim().max(1);
    // Whether `index` is no larger than `t` in each dim but `skip`, up to the first that is.
    let within = |t: &TensorMeta, skip: Option<usize>| -> Result<bool> {
        for k in (0..dims).filter(|&k| Some(k) != skip) {
            if size(index, k)? > size(t, k)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let wrong_shape = !(within(x, Some(d))? && src.map_or(Ok(true), |s| within(s, None))?);
    // The CPU compares the sizes first, then checks the source's dims, then reports.
    ensure!(
        src.is_none_or(|s| index.dim().max(1) == s.dim().max(1)),
        "Index tensor must have the same number of dimensions as src tensor"
    );
    if wrong_shape {
        let tail = src.map_or(String::new(), |s| {
            format!(" and to be no larger size than src {}", fmt_shape(&s.sizes))
        });
        return Err(Error::invalid(format!(
            "Expected index {} to be no larger than self {} apart from dimension {d}{tail}",
            fmt_shape(&index.sizes),
            fmt_shape(&x.sizes)
        )));
    }
    Ok(())
}

pub fn operand(v: Value) -> Operand {
    match v {
        Value::Tensor(t) => Operand::Tensor(t.clone()),
        Value::Number(s) => Operand::Number(s),
    }
}

/// `index_add(self, dim, index, source, *, alpha=1)`, `index_add_` and `index_add.out`.
pub fn index_add(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(5 + form.out_len())?;
    let (x, index, source) = (args.tensor(0)?, args.tensor(2)?, args.tensor(3)?);
    let d = wrap_dim(args.int(1)?, x.dim())?;
    let alpha = args.scalar_or(4, Scalar::Integer(1))?;
    check_index_source("index_add_()", x, d, index, source)?;
    let (out, outputs) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    check_write_apart(&out, &[index, source])?;
    check_partial(&out, x)?;
    // The kernel reads `alpha` as `self`'s dtype, checked, unless it returns first: a
    // `self` of more than one dim with nothing to add.
    let nothing = x.dim() > 1 && (numel(&index.sizes)? == 0 || numel(&x.sizes)? == 0);
    let alpha = if nothing {
        alpha
    } else {
        checked_number(alpha, x.dtype)?
    };
    let src = Operand::Tensor(source.clone());
    cx.k.scatter(ScatterOp::IndexAdd, x, d as i64, index, &src, alpha, &out)
        .map_err(failed("scatter"))?;
    Ok(vec![outputs])
}

/// `index_func_meta_impl`'s checks of `index_add_` and `index_reduce_` (`name` is how
/// PyTorch reports them): a vector of indices, as many as `source` has along `d`, one dtype
/// for `self` and `source`, and one shape but along `d`.
pub fn check_index_source(
    name: &str,
    x: &TensorMeta,
    d: usize,
    index: &TensorMeta,
    source: &TensorMeta,
) -> Result<()> {
    ensure_index!(
        index.dim() <= 1,
        "{name}: Index is supposed to be a vector, but got dim: {} with type: {} and size: {}",
        index.dim(),
        index.dtype.name(),
        fmt_shape(&index.sizes)
    );
    ensure!(
        is_index(index.dtype),
        "{name}: Expected dtype int32/int64 for index but got: {}",
        index.dtype.name()
    );
    ensure!(
        x.dtype == source.dtype,
        "{name}: self ({}) and source ({}) must have the same scalar type",
        x.dtype.name(),
        source.dtype.name()
    );
    ensure!(
        d == 0 || d < source.dim(),
        "{name}: Indexing dim {d} is out of bounds of the source tensor with dim {}",
        source.dim()
    );
    let n = numel(&index.sizes)?;
    let source_len = source.sizes.get(d).copied().unwrap_or(1);
    ensure!(
        n == source_len,
        "{name}: Number of indices ({n}) should be equal to source.size(dim): ({source_len}), \
         for dim: {d}"
    );
    let (mut self_sizes, mut source_sizes) = (x.sizes.clone(), source.sizes.clone());
    if source.dim() != 0 && x.dim() != 0 {
        self_sizes.remove(d);
        source_sizes.remove(d);
    }
    ensure!(
        self_sizes == source_sizes,
        "source tensor shape must match self tensor shape, excluding the specified dimension. \
         Got self.shape = {} source.shape = {}",
        fmt_shape(&x.sizes),
        fmt_shape(&source.sizes)
    );
    Ok(())
}

/// What an indexed write may not share with the tensor it writes: anything of its index
/// (or indices) and source (`assert_no_internal_overlap`, `assert_no_overlap`).
pub fn check_write_apart(out: &TensorMeta, reads: &[&TensorMeta]) -> Result<()> {
    check_internal(out)?;
    reads.iter().try_for_each(|t| check_none(out, t))
}

/// `masked_fill_.Scalar`/`.Tensor(self, mask, value)` and the functional `masked_fill`, whose
/// result has the broadcast shape, contiguous.
pub fn masked_fill(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3)?;
    let (x, mask) = (args.tensor(0)?, args.tensor(1)?);
    let value = args.value(2)?;
    ensure!(
        mask.dtype == ScalarType::Bool,
        "masked_fill_ only supports boolean masks, but got mask with dtype {}",
        mask.dtype.type_meta_name()
    );
    match value {
        Value::Tensor(v) => ensure!(
            v.dim() == 0,
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} \
             dimension(s).",
            v.dim()
        ),
        Value::Number(n) => {
            checked_number(n, x.dtype)?;
        }
    }
    // The CPU's out-of-place form expands the mask first, so its message names it first.
    let shape = match form {
        Form::InPlace => broadcast(&x.sizes, &mask.sizes)?,
        _ => broadcast(&mask.sizes, &x.sizes)?,
    };
    let value = operand(value);
    let (src, out, result) = match form {
        Form::InPlace => {
            ensure!(
                shape == x.sizes,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(&x.sizes),
                fmt_shape(&shape)
            );
            if check_internal(x).is_err() {
                cx.warn(
                    "Use of masked_fill_ on expanded tensors is deprecated. Please clone() the \
                     tensor before performing this operation. This also applies to advanced \
                     indexing e.g. tensor[mask] = scalar",
                );
            }
            (x.clone(), x.clone(), Output::Argument(0))
        }
        _ => {
            let out = cx.empty_contiguous(&shape, x.dtype)?;
            (expand(x, &shape)?, out.clone(), Output::Tensor(out))
        }
    };
    let mask = expand(mask, &shape)?;
    cx.k.masked_fill(&src, &mask, &value, &out)
        .map_err(failed("masked_fill"))?;
    Ok(vec![result])
}

/// `embedding_dense_backward(grad_output, indices, num_weights, padding_idx,
/// scale_grad_by_freq)`: a `[num_weights, grad.size(-1)]` gradient.
pub fn embedding_dense_backward(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (grad, indices) = (args.tensor(0)?, args.tensor(1)?);
    let (num_weights, padding_idx) = (args.int(2)?, args.int(3)?);
    let scale = args.bool_or(4, false)?;
    let arg = TensorArg::new(indices, "indices", 2);
    check_scalar_types("embedding_backward", arg, &INDEX_TYPES)?;
    ensure!(grad.dim() > 0, "embedding_backward: grad must have a dim");
    ensure!(num_weights >= 0, "num_weights must be non-negative");
    let shape = [num_weights, grad.sizes[grad.dim() - 1]];
    let out = cx.empty_contiguous(&shape, grad.dtype)?;
    cx.k.embedding_backward(grad, indices, num_weights, padding_idx, scale, &out)
        .map_err(failed("embedding_backward"))?;
    Ok(vec![Output::Tensor(out)])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, Scalar, ScalarType};

    fn longs(sizes: &[i64], storage: u64) -> crate::types::TensorMeta {
        tensor(sizes, ScalarType::Int64, storage)
    }

    #[test]
    fn index_select_and_gather_shapes() {
        let mut xt = f32s(&[3, 4], 1);
        xt.strides = vec![1, 3];
        let (res, fake) = run(
            "index_select",
            "",
            vec![arg(&xt), Arg::Integer(0), arg(&longs(&[2], 2))],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 4], vec![4, 1], 0, ScalarType::Float32)
        );
        assert_eq!(fake.calls[0].detail, "GatherOp::IndexSelect 0");
        let (res, _) = run(
            "index_select",
            "",
            vec![arg(&xt), Arg::Integer(0), arg(&longs(&[2, 1], 2))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("index_select(): Index is supposed to be a vector"));
        let (res, _) = run(
            "gather",
            "",
            vec![arg(&xt), Arg::Integer(1), arg(&longs(&[2, 2], 3))],
        );
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![2, 1]);
        let (res, _) = run(
            "gather",
            "",
            vec![arg(&xt), Arg::Integer(1), arg(&longs(&[4, 2], 3))],
        );
        assert!(res.unwrap_err().message.contains(
            "Size does not match at dimension 0 expected index [4, 2] to be no larger than self [3, 4] apart from dimension 1"
        ));
    }

    #[test]
    fn scatter_checks_and_forms() {
        let x = f32s(&[3, 4], 1);
        let idx = longs(&[2, 2], 2);
        let (res, fake) = run(
            "scatter",
            "value",
            vec![
                arg(&x),
                Arg::Integer(1),
                arg(&idx),
                Arg::Scalar(Scalar::Float(1.5)),
            ],
        );
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![3, 4]);
        assert!(fake.calls[0].detail.starts_with("ScatterOp::Assign 1"));
        let (res, _) = run(
            "scatter_add_",
            "",
            vec![arg(&x), Arg::Integer(1), arg(&idx), arg(&f32s(&[2, 3], 3))],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        let (res, _) = run(
            "scatter",
            "src",
            vec![arg(&x), Arg::Integer(1), arg(&idx), arg(&f32s(&[1, 1], 3))],
        );
        assert!(res.unwrap_err().message.contains(
            "Expected index [2, 2] to be no larger than self [3, 4] apart from dimension 1 and to be no larger size than src [1, 1]"
        ));
        let dbl = tensor(&[2, 2], ScalarType::Float64, 4);
        let (res, _) = run(
            "scatter",
            "src",
            vec![arg(&x), Arg::Integer(1), arg(&idx), arg(&dbl)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("scatter(): Expected self.dtype to be equal to src.dtype"));
    }

    #[test]
    fn masked_fill_broadcasts() {
        let x = f32s(&[4], 1);
        let mask = tensor(&[3, 4], ScalarType::Bool, 2);
        let one = Arg::Scalar(Scalar::Float(1.0));
        let (res, fake) = run(
            "masked_fill",
            "Scalar",
            vec![arg(&x), arg(&mask), one.clone()],
        );
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![3, 4]);
        assert_eq!(fake.calls[0].tensors[0].strides, vec![0, 1]);
        let (res, _) = run("masked_fill_", "Scalar", vec![arg(&x), arg(&mask), one]);
        assert!(res
            .unwrap_err()
            .message
            .contains("output with shape [4] doesn't match the broadcast shape [3, 4]"));
        let (res, _) = run(
            "masked_fill_",
            "Tensor",
            vec![
                arg(&x),
                arg(&tensor(&[4], ScalarType::Bool, 3)),
                arg(&f32s(&[1], 4)),
            ],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("only supports a 0-dimensional value tensor"));
    }

    #[test]
    fn embedding_backward_shape() {
        let args = vec![
            arg(&f32s(&[2, 3, 5], 1)),
            arg(&longs(&[2, 3], 2)),
            Arg::Integer(4),
            Arg::Integer(-1),
            Arg::Boolean(false),
        ];
        let (res, _) = run("embedding_dense_backward", "", args);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 5], vec![5, 1], 0, ScalarType::Float32)
        );
    }
}
