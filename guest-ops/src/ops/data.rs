//! Ops whose output sizes depend on the input's values: `nonzero`, `masked_select`,
//! `masked_scatter_`, the `unique` family, and boolean masks in indexing. Each asks the
//! `data-size` import for the count first; on the client that is the op's one round trip.

use crate::error::{ensure, ensure_index, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::copied_out;
use crate::ops::ctx::Ctx;
use crate::ops::library::{self, launch};
use crate::ops::out::output;
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims::{expand, select};
use crate::rules::layout::contiguous_strides;
use crate::rules::overlap::{check_internal, check_none};
use crate::rules::shape::{broadcast, fmt_shape, wrap_dim_of_dims};
use crate::types::{LibraryOp, Output, ScalarType, SizeQuery, TensorMeta};

/// The size `query` gives for `x`, which the host reads off the values.
pub fn count(cx: &mut Ctx, query: SizeQuery, x: &TensorMeta) -> Result<i64> {
    let n = cx.k.data_size(query, x).map_err(failed("data_size"))?;
    ensure!(
        n >= 0,
        "the host counted {n} for {query:?} of {}",
        x.describe()
    );
    Ok(n)
}

/// `nonzero(x)` into a new `[n, x.dim]` int64 tensor, laid out column by column (strides
/// `[1, n]`) as PyTorch's CPU kernel lays it out.
pub fn nonzero_of(cx: &mut Ctx, x: &TensorMeta) -> Result<TensorMeta> {
    let n = count(cx, SizeQuery::Nonzero, x)?;
    let out = cx.empty(&[n, x.dim() as i64], vec![1, n], ScalarType::Int64)?;
    cx.k.nonzero(x, &out).map_err(failed("nonzero"))?;
    Ok(out)
}

/// The columns of `nonzero`'s result: one index tensor per dim of the mask.
pub fn columns(rows: &TensorMeta) -> Result<Vec<Option<TensorMeta>>> {
    (0..rows.sizes[1])
        .map(|j| select(rows, 1, j).map(Some))
        .collect()
}

/// `t`, or a 1-element view of it when it is 0-dim, so that it can be indexed.
fn at_least_1d(t: &TensorMeta) -> Result<TensorMeta> {
    if t.dim() == 0 {
        expand(t, &[1])
    } else {
        Ok(t.clone())
    }
}

fn check_mask(op: &str, mask: &TensorMeta) -> Result<()> {
    ensure!(
        mask.dtype == ScalarType::Bool,
        "{op}: expected BoolTensor for mask"
    );
    Ok(())
}

/// `nonzero(self)`
pub fn nonzero(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    Ok(vec![Output::Tensor(nonzero_of(cx, args.tensor(0)?)?)])
}

/// `nonzero.out(self, *, out)`: a Long `out` takes the indices (column by column, where it is
/// resized).
pub fn nonzero_out(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let out = args.tensor(1)?;
    ensure!(
        out.dtype == ScalarType::Int64,
        "nonzero: Expected out tensor to have scalar type Long but got scalar type{}",
        out.dtype.name()
    );
    copied_out::exact(args, cx, 1, nonzero)
}

/// `nonzero_static(self, *, size, fill_value=-1)`: the first `size` indices of `self`'s
/// nonzero elements, rows of `fill_value` past the last: a Long `[size, self.dim()]`, its
/// shape known without the values.
pub fn nonzero_static(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let x = args.tensor(0)?;
    let size = args.int(1)?;
    ensure!(
        size >= 0,
        "nonzero_static: 'size' must be an non-negative integer"
    );
    let out = cx.empty_contiguous(&[size, x.dim() as i64], ScalarType::Int64)?;
    let op = LibraryOp::NonzeroStatic((size, args.int_or(2, -1)?));
    launch(cx, op, std::slice::from_ref(x), vec![out])
}

/// `masked_select(self, mask)` and `.out`: the elements of `self` where `mask`, both
/// broadcast to one shape, as a 1-d tensor in row-major order.
pub fn masked_select(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (given, given_mask) = (args.tensor(0)?, args.tensor(1)?);
    check_mask("masked_select", given_mask)?;
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == given.dtype,
            "masked_select(): self and result must have the same scalar type"
        );
    }
    let shape = broadcast(&given.sizes, &given_mask.sizes)?;
    let x = at_least_1d(&expand(given, &shape)?)?;
    let mask = at_least_1d(&expand(given_mask, &shape)?)?;
    let rows = nonzero_of(cx, &mask)?;
    let (out, result) = output(cx, dest, &[rows.sizes[0]], x.dtype)?;
    check_none(&out, given)?;
    check_none(&out, given_mask)?;
    cx.k.index(&x, &columns(&rows)?, &out)
        .map_err(failed("index"))?;
    cx.free(&rows);
    Ok(vec![result])
}

/// `masked_scatter_(self, mask, source)`: the leading elements of `source`, in row-major
/// order, written where `mask` (broadcast to `self`) is set. The host's kernel checks that
/// `source` has as many as `mask` sets, so a short one fails at the next read, as CUDA's
/// device-side check does, and no count of the mask's elements waits for the host.
pub fn masked_scatter_(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (x, mask, source) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    check_internal(x)?;
    ensure!(
        mask.dtype == ScalarType::Bool,
        "masked_scatter_ only supports boolean masks, but got mask with dtype {}",
        mask.dtype.name()
    );
    ensure!(
        source.dtype == x.dtype,
        "masked_scatter_: expected self and source to have same dtypes but got {} and {}",
        x.dtype.name(),
        source.dtype.name()
    );
    expand(mask, &x.sizes)?;
    let inputs = [x.clone(), mask.clone(), source.clone()];
    library::run(
        cx,
        LibraryOp::MaskedScatter,
        &inputs,
        x.clone(),
        Output::Argument(0),
    )
}

/// The outputs of a `unique`: `values`, then `inverse` and `counts`, each empty (`[0]`) when
/// not asked for.
fn unique_of(
    cx: &mut Ctx,
    x: &TensorMeta,
    query: SizeQuery,
    sorted: bool,
    want_inverse: bool,
    want_counts: bool,
) -> Outputs {
    if let SizeQuery::Unique(Some(d)) = query {
        if x.sizes[d as usize] == 0 {
            // PyTorch's shortcut: `x`'s own shape, contiguous, and no inverse or counts.
            let values = cx.empty_contiguous(&x.sizes, x.dtype)?;
            let (inverse, counts) = (
                cx.empty_contiguous(&[0], ScalarType::Int64)?,
                cx.empty_contiguous(&[0], ScalarType::Int64)?,
            );
            cx.k.unique(query, x, sorted, &values, None, None)
                .map_err(failed("unique"))?;
            return Ok(vec![
                Output::Tensor(values),
                Output::Tensor(inverse),
                Output::Tensor(counts),
            ]);
        }
    }
    let n = count(cx, query, x)?;
    let dim = match query {
        SizeQuery::Unique(d) | SizeQuery::UniqueConsecutive(d) => d,
        SizeQuery::Nonzero
        | SizeQuery::BincountLength
        | SizeQuery::Total
        | SizeQuery::StorageBytes
        | SizeQuery::LstsqRank(_)
        | SizeQuery::FirstNonzero(_)
        | SizeQuery::Element(_)
        | SizeQuery::Nms(_) => None,
    };
    let (values, inverse_shape) = match dim {
        None => (cx.empty_contiguous(&[n], x.dtype)?, x.sizes.clone()),
        Some(d) => {
            let d = d as usize;
            // The slices are gathered with `dim` first, then that dim moves back in place.
            let mut gathered = vec![n];
            gathered.extend(
                x.sizes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != d)
                    .map(|(_, s)| s),
            );
            let mut strides = contiguous_strides(&gathered)?;
            let first = strides.remove(0);
            strides.insert(d, first);
            let mut sizes = x.sizes.clone();
            sizes[d] = n;
            (cx.empty(&sizes, strides, x.dtype)?, vec![x.sizes[d]])
        }
    };
    let inverse_shape = if want_inverse { inverse_shape } else { vec![0] };
    let inverse = cx.empty_contiguous(&inverse_shape, ScalarType::Int64)?;
    let counts = cx.empty_contiguous(&[if want_counts { n } else { 0 }], ScalarType::Int64)?;
    cx.k.unique(
        query,
        x,
        sorted,
        &values,
        want_inverse.then_some(&inverse),
        want_counts.then_some(&counts),
    )
    .map_err(failed("unique"))?;
    Ok(vec![
        Output::Tensor(values),
        Output::Tensor(inverse),
        Output::Tensor(counts),
    ])
}

/// `_unique(self, sorted=True, return_inverse=False)`: `_unique2`'s values and inverse.
pub fn unique(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let x = args.tensor(0)?;
    let sorted = args.bool_or(1, true)?;
    let inverse = args.bool_or(2, false)?;
    let mut outputs = unique_of(cx, x, SizeQuery::Unique(None), sorted, inverse, false)?;
    if let Some(Output::Tensor(counts)) = outputs.pop() {
        cx.free(&counts);
    }
    Ok(outputs)
}

/// `_unique2(self, sorted=True, return_inverse=False, return_counts=False)`
pub fn unique2(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let x = args.tensor(0)?;
    let sorted = args.bool_or(1, true)?;
    let (inverse, counts) = (args.bool_or(2, false)?, args.bool_or(3, false)?);
    unique_of(cx, x, SizeQuery::Unique(None), sorted, inverse, counts)
}

/// `unique_dim(self, dim, sorted=True, return_inverse=False, return_counts=False)`
pub fn unique_dim(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let x = args.tensor(0)?;
    let d = wrap_dim_of_dims(args.int(1)?, x.dim())? as i64;
    let sorted = args.bool_or(2, true)?;
    let (inverse, counts) = (args.bool_or(3, false)?, args.bool_or(4, false)?);
    unique_of(cx, x, SizeQuery::Unique(Some(d)), sorted, inverse, counts)
}

/// `unique_consecutive(self, return_inverse=False, return_counts=False, dim=None)`
pub fn unique_consecutive(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let x = args.tensor(0)?;
    let (inverse, counts) = (args.bool_or(1, false)?, args.bool_or(2, false)?);
    let dim = match args.opt_int(3)? {
        Some(d) => Some(wrap_dim_of_dims(d, x.dim())? as i64),
        None => None,
    };
    unique_of(
        cx,
        x,
        SizeQuery::UniqueConsecutive(dim),
        false,
        inverse,
        counts,
    )
}

/// The indices with every boolean (or uint8) mask replaced by the columns of its nonzero
/// elements, one index per dim it covers, as PyTorch's `expandTensors` does; the
/// temporaries holding those columns come second, for the caller to give back.
pub fn expand_masks(
    cx: &mut Ctx,
    x: &TensorMeta,
    indices: &[Option<&TensorMeta>],
) -> Result<(Vec<Option<TensorMeta>>, Vec<TensorMeta>)> {
    let (mut expanded, mut temps, mut dim) = (Vec::new(), Vec::new(), 0usize);
    for index in indices {
        let mask = match index {
            Some(t) if matches!(t.dtype, ScalarType::Bool | ScalarType::Uint8) => *t,
            other => {
                expanded.push(other.cloned());
                dim += 1;
                continue;
            }
        };
        if mask.dtype == ScalarType::Uint8 {
            cx.warn(
                "indexing with dtype torch.uint8 is now deprecated, please use a dtype \
                 torch.bool instead.",
            );
        }
        if mask.dim() == 0 {
            return Err(Error::unsupported(
                "indexing with a 0-dim boolean mask is not supported on remote",
            ));
        }
        for (j, size) in mask.sizes.iter().enumerate() {
            let at = dim + j;
            ensure_index!(
                at < x.dim(),
                "too many indices for tensor of dimension {} (got {})",
                x.dim(),
                at + 1
            );
            ensure_index!(
                x.sizes[at] == *size,
                "The shape of the mask {} at index {j} does not match the shape of the indexed \
                 tensor {} at index {at}",
                fmt_shape(&mask.sizes),
                fmt_shape(&x.sizes)
            );
        }
        let rows = nonzero_of(cx, mask)?;
        expanded.extend(columns(&rows)?);
        dim += mask.dim();
        temps.push(rows);
    }
    Ok((expanded, temps))
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run_sized, tensor};
    use crate::types::{Arg, Output, ScalarType};

    const I64: ScalarType = ScalarType::Int64;

    #[test]
    fn nonzero_is_column_major_with_the_hosts_count() {
        let x = f32s(&[2, 3], 1);
        let (res, fake) = run_sized("nonzero", "", vec![arg(&x)], 4);
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 2], vec![1, 4], 0, I64)
        );
        assert_eq!(fake.kernels(), vec!["data_size", "nonzero"]);
        let (res, _) = run_sized("nonzero", "", vec![arg(&f32s(&[], 1))], 1);
        assert_eq!(geometry(&meta(&res.unwrap(), 0)).0, vec![1, 0]);
    }

    #[test]
    fn boolean_masks_index_through_nonzero() {
        let x = f32s(&[3, 4], 1);
        let mask = tensor(&[3, 4], ScalarType::Bool, 2);
        let (res, fake) = run_sized(
            "index",
            "Tensor",
            vec![arg(&x), Arg::OptionalTensorList(vec![Some(mask.clone())])],
            5,
        );
        assert_eq!(geometry(&meta(&res.unwrap(), 0)).0, vec![5]);
        assert_eq!(fake.kernels(), vec!["data_size", "nonzero", "index"]);
        assert_eq!(fake.freed.len(), 1, "the nonzero temporary is given back");
        let (res, fake) = run_sized("masked_select", "", vec![arg(&x), arg(&mask)], 2);
        assert_eq!(geometry(&meta(&res.unwrap(), 0)).0, vec![2]);
        assert_eq!(fake.kernels(), vec!["data_size", "nonzero", "index"]);
        // The host's kernel checks the source's length: no size is asked.
        let few = f32s(&[1], 3);
        let (res, fake) = run_sized(
            "masked_scatter_",
            "",
            vec![arg(&x), arg(&mask), arg(&few)],
            2,
        );
        assert!(res.is_ok());
        assert_eq!(fake.kernels(), vec!["library"]);
    }

    #[test]
    fn unique_shapes_follow_the_flags_and_dim() {
        let x = tensor(&[3, 2], I64, 1);
        let flags = |a, b| {
            vec![
                arg(&x),
                Arg::Boolean(true),
                Arg::Boolean(a),
                Arg::Boolean(b),
            ]
        };
        let (res, fake) = run_sized("_unique2", "", flags(false, false), 4);
        let out = res.unwrap();
        assert_eq!(meta(&out, 0).sizes, vec![4]);
        assert_eq!(
            (meta(&out, 1).sizes, meta(&out, 2).sizes),
            (vec![0], vec![0])
        );
        assert_eq!(fake.calls[0].detail, "SizeQuery::Unique(None)");
        let (res, _) = run_sized("_unique2", "", flags(true, true), 4);
        let out = res.unwrap();
        assert_eq!(
            (meta(&out, 1).sizes, meta(&out, 2).sizes),
            (vec![3, 2], vec![4])
        );
        let by_dim = vec![
            arg(&x),
            Arg::Integer(-1),
            Arg::Boolean(true),
            Arg::Boolean(true),
        ];
        let (res, _) = run_sized("unique_dim", "", by_dim, 1);
        let out = res.unwrap();
        assert_eq!(geometry(&meta(&out, 0)), (vec![3, 1], vec![1, 3], 0, I64));
        assert_eq!(meta(&out, 1).sizes, vec![2]);
        assert!(matches!(out[2], Output::Tensor(_)));
    }
}
