//! Advanced indexing: `index.Tensor` and `index_put_`. Boolean masks become the integer
//! indices of their nonzero elements first (`data::expand_masks`).

use crate::error::{ensure, ensure_index, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::data::expand_masks;
use crate::ops::index;
use crate::ops::{Form, Outputs};
use crate::rules::dims::{expand, permute};
use crate::rules::overlap::{check_internal, check_none};
use crate::rules::propagate::iterator_strides;
use crate::rules::shape::{broadcast, broadcast_all, fmt_shape, numel};
use crate::types::{Arg, Output, ScalarType, TensorMeta};

/// The result of `x[indices]`: its sizes and the strides TensorIterator gives it.
struct Plan {
    shape: Vec<i64>,
    strides: Vec<i64>,
}

fn check_index(t: &TensorMeta) -> Result<()> {
    match t.dtype {
        ScalarType::Int64 | ScalarType::Int32 => Ok(()),
        _ => Err(Error::index(
            "tensors used as indices must be long, int, byte or bool tensors",
        )),
    }
}

/// `AdvancedIndex`: broadcast the indices; indexed dims that are not adjacent move to the
/// front; the result's layout follows the restrided input and the indices.
fn plan(x: &TensorMeta, indices: &[Option<&TensorMeta>]) -> Result<Plan> {
    ensure_index!(
        indices.len() <= x.dim(),
        "too many indices for tensor of dimension {} (got {})",
        x.dim(),
        indices.len()
    );
    let defined: Vec<(usize, &TensorMeta)> = indices
        .iter()
        .enumerate()
        .filter_map(|(d, t)| t.map(|t| (d, t)))
        .collect();
    ensure!(!defined.is_empty(), "at least one index must be provided");
    for (_, t) in &defined {
        check_index(t)?;
    }
    let index_shape =
        broadcast_all(defined.iter().map(|(_, t)| t.sizes.as_slice())).map_err(|_| {
            let shapes: Vec<String> = defined.iter().map(|(_, t)| fmt_shape(&t.sizes)).collect();
            Error::index(format!(
                "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                shapes.join(", ")
            ))
        })?;
    let first = defined[0].0;
    let adjacent = defined
        .iter()
        .enumerate()
        .all(|(i, (d, _))| *d == first + i);
    let (src, before) = if adjacent {
        (x.clone(), first)
    } else {
        let mut order: Vec<i64> = defined.iter().map(|(d, _)| *d as i64).collect();
        let rest: Vec<i64> = (0..x.dim() as i64).filter(|d| !order.contains(d)).collect();
        order.extend(rest);
        (permute(x, &order)?, 0)
    };
    let k = defined.len();
    let after = src.dim() - before - k;
    let mut shape = src.sizes[..before].to_vec();
    shape.extend(&index_shape);
    shape.extend(&src.sizes[before + k..]);
    let mut src_strides = src.strides[..before].to_vec();
    src_strides.extend(vec![0; index_shape.len()]);
    src_strides.extend(&src.strides[before + k..]);
    let restrided = src.view(shape.clone(), src_strides, src.storage_offset);
    let mut operands = vec![restrided];
    for (_, t) in &defined {
        let e = expand(t, &index_shape)?;
        let mut sizes = vec![1; before];
        sizes.extend(&e.sizes);
        sizes.extend(vec![1; after]);
        let mut strides = vec![0; before];
        strides.extend(&e.strides);
        strides.extend(vec![0; after]);
        operands.push(e.view(sizes, strides, e.storage_offset));
    }
    let refs: Vec<&TensorMeta> = operands.iter().collect();
    let strides = iterator_strides(&shape, &refs, false)?;
    Ok(Plan { shape, strides })
}

fn refs(indices: &[Option<TensorMeta>]) -> Vec<Option<&TensorMeta>> {
    indices.iter().map(Option::as_ref).collect()
}

/// `index.Tensor(self, indices)`.
pub fn index(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let x = args.tensor(0)?;
    let (owned, temps) = expand_masks(cx, x, &args.opt_tensor_list(1)?)?;
    let plan = plan(x, &refs(&owned))?;
    let out = cx.empty(&plan.shape, plan.strides, x.dtype)?;
    cx.k.index(x, &owned, &out).map_err(failed("index"))?;
    temps.iter().for_each(|t| cx.free(t));
    Ok(vec![Output::Tensor(out)])
}

/// `index_put_(self, indices, values, accumulate=False)` and `_index_put_impl_(..., unsafe)`.
/// One element written through one mask is `masked_fill_`, as `canDispatchToMaskedFill`
/// finds it, and needs no count of the mask's elements: a one-element CPU value arrives as a
/// number (the CPU fills with its `item()`), and a remote one is the fill's value tensor
/// (Python's `x[mask] = 0.0` makes the value on the tensor's device, unless that is CUDA).
pub fn index_put(args: &Args, cx: &mut Ctx, schema_len: usize) -> Outputs {
    args.at_most(schema_len)?;
    let x = args.tensor(0)?;
    if check_internal(x).is_err() {
        cx.warn(
            "Use of index_put_ on expanded tensors is deprecated. Please clone() the tensor \
             before performing this operation. This also applies to advanced indexing e.g. \
             tensor[indices] = tensor",
        );
    }
    let indices = args.opt_tensor_list(1)?;
    let values = match args.value(2)? {
        Value::Number(value) => return fill_through_mask(x, &indices, Arg::Scalar(value), cx),
        Value::Tensor(values) => values,
    };
    let accumulate = args.bool_or(3, false)?;
    if !accumulate && numel(&values.sizes)? == 1 && one_mask(&indices) {
        let value = values.view(Vec::new(), Vec::new(), values.storage_offset);
        return fill_through_mask(x, &indices, Arg::Tensor(value), cx);
    }
    // The indices first, then the value's shape and dtype, as `make_index_put_iterator`.
    let (owned, temps) = expand_masks(cx, x, &indices)?;
    let plan = plan(x, &refs(&owned))?;
    let fits = broadcast(&plan.shape, &values.sizes).is_ok_and(|s| s == plan.shape);
    ensure!(
        fits,
        "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of \
         shape {}",
        fmt_shape(&values.sizes),
        fmt_shape(&plan.shape)
    );
    ensure!(
        values.dtype == x.dtype,
        "Index put requires the source and destination dtypes match, got {} for the destination \
         and {} for the source.",
        x.dtype.name(),
        values.dtype.name()
    );
    check_none(x, values)?;
    for index in owned.iter().flatten() {
        check_none(x, index)?;
    }
    cx.k.index_put(x, &owned, values, accumulate, x)
        .map_err(failed("index_put"))?;
    temps.iter().for_each(|t| cx.free(t));
    Ok(vec![Output::Argument(0)])
}

/// Whether the one index given is a mask, the others none.
fn one_mask(indices: &[Option<&TensorMeta>]) -> bool {
    let mut given = indices.iter().flatten();
    let is_mask = |t: &TensorMeta| matches!(t.dtype, ScalarType::Bool | ScalarType::Uint8);
    matches!((given.next(), given.next()), (Some(t), None) if is_mask(t))
}

/// `x.masked_fill_(mask, value)` with `mask` the one index, placed among `x`'s dims as the
/// `None`s before it place it and unsqueezed for the dims after all the indices.
fn fill_through_mask(
    x: &TensorMeta,
    indices: &[Option<&TensorMeta>],
    value: Arg,
    cx: &mut Ctx,
) -> Outputs {
    let mut masks = indices
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)));
    let (Some((leading, mask)), None) = (masks.next(), masks.next()) else {
        return Err(Error::invalid(
            "index_put_: a number as the value needs one mask among the indices",
        ));
    };
    for (j, &size) in mask.sizes.iter().enumerate() {
        let at = leading + j;
        ensure_index!(
            x.sizes.get(at) == Some(&size),
            "The shape of the mask {} at index {j} does not match the shape of the indexed \
             tensor {} at index {at}",
            fmt_shape(&mask.sizes),
            fmt_shape(&x.sizes)
        );
    }
    let trailing = x.dim().saturating_sub(indices.len() - 1 + mask.dim());
    let mut sizes = mask.sizes.clone();
    let mut strides = mask.strides.clone();
    sizes.extend(std::iter::repeat_n(1, trailing));
    strides.extend(std::iter::repeat_n(1, trailing));
    let mask = mask.view(sizes, strides, mask.storage_offset);
    let fill = [Arg::Tensor(x.clone()), Arg::Tensor(mask), value];
    index::masked_fill(&Args::new(&fill), cx, Form::InPlace)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType, TensorMeta};

    fn idx(sizes: &[i64], storage: u64) -> Option<TensorMeta> {
        Some(tensor(sizes, ScalarType::Int64, storage))
    }

    fn index(x: &TensorMeta, list: Vec<Option<TensorMeta>>) -> (Vec<i64>, Vec<i64>) {
        let (res, _) = run(
            "index",
            "Tensor",
            vec![arg(x), Arg::OptionalTensorList(list)],
        );
        let t = meta(&res.unwrap(), 0);
        (t.sizes, t.strides)
    }

    /// Expected values printed by torch 2.13 (see each comment).
    #[test]
    fn index_shapes_like_torch() {
        let a = f32s(&[3, 4, 5], 1);
        let mut at = f32s(&[3, 4, 5], 1);
        at.strides = vec![1, 3, 12];
        // a[i], at[i], a[:, i], at[:, i] with i of shape [2]
        assert_eq!(
            index(&a, vec![idx(&[2], 2)]),
            (vec![2, 4, 5], vec![20, 5, 1])
        );
        assert_eq!(
            index(&at, vec![idx(&[2], 2)]),
            (vec![2, 4, 5], vec![20, 1, 4])
        );
        assert_eq!(
            index(&at, vec![None, idx(&[2], 2)]),
            (vec![3, 2, 5], vec![1, 3, 6])
        );
        // a[j, i] (j [2, 1]), a[i, :, i], at[:, j, i]
        assert_eq!(
            index(&a, vec![idx(&[2, 1], 3), idx(&[2], 2)]),
            (vec![2, 2, 5], vec![10, 5, 1])
        );
        assert_eq!(
            index(&at, vec![idx(&[2], 2), None, idx(&[2], 2)]),
            (vec![2, 4], vec![4, 1])
        );
        assert_eq!(
            index(&at, vec![None, idx(&[2, 1], 3), idx(&[2], 2)]),
            (vec![3, 2, 2], vec![4, 2, 1])
        );
    }

    #[test]
    fn index_errors() {
        let a = f32s(&[3, 4], 1);
        let list = vec![idx(&[2], 2), idx(&[3], 3)];
        let (res, _) = run(
            "index",
            "Tensor",
            vec![arg(&a), Arg::OptionalTensorList(list)],
        );
        assert!(res.unwrap_err().message.contains(
            "shape mismatch: indexing tensors could not be broadcast together with shapes [2], [3]"
        ));
        let mask = Some(tensor(&[4], ScalarType::Bool, 4));
        let (res, _) = run(
            "index",
            "Tensor",
            vec![arg(&a), Arg::OptionalTensorList(vec![mask])],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("The shape of the mask [4] at index 0 does not match the shape of the indexed tensor [3, 4] at index 0"));
        let list = vec![idx(&[1], 2), idx(&[1], 2), idx(&[1], 2)];
        let (res, _) = run(
            "index",
            "Tensor",
            vec![arg(&a), Arg::OptionalTensorList(list)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("too many indices for tensor of dimension 2 (got 3)"));
    }

    #[test]
    fn index_put_checks_values() {
        let a = f32s(&[3, 4, 5], 1);
        let list = Arg::OptionalTensorList(vec![idx(&[2], 2)]);
        let (res, fake) = run(
            "index_put_",
            "",
            vec![
                arg(&a),
                list.clone(),
                arg(&f32s(&[5], 3)),
                Arg::Boolean(true),
            ],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].detail, "true");
        assert_eq!(geometry(&fake.calls[0].tensors[3]), geometry(&a));
        let (res, _) = run(
            "index_put_",
            "",
            vec![arg(&a), list.clone(), arg(&f32s(&[3, 5], 3))],
        );
        assert!(res.unwrap_err().message.contains(
            "shape mismatch: value tensor of shape [3, 5] cannot be broadcast to indexing result of shape [2, 4, 5]"
        ));
        let dbl = tensor(&[], ScalarType::Float64, 4);
        let (res, _) = run("_index_put_impl_", "", vec![arg(&a), list, arg(&dbl)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Index put requires the source and destination dtypes match"));
    }

    #[test]
    fn one_element_through_one_mask_is_a_fill() {
        let a = f32s(&[3, 4, 5], 1);
        let mask = || Some(tensor(&[4], ScalarType::Bool, 2));
        // `a[:, mask] = v` with a one-element double `v`: no size asked, no dtype check.
        let one = tensor(&[1], ScalarType::Float64, 3);
        let list = Arg::OptionalTensorList(vec![None, mask()]);
        let (res, fake) = run("index_put_", "", vec![arg(&a), list, arg(&one)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.kernels(), vec!["masked_fill"]);
        // The mask broadcast over the dims before and after it.
        let fill_mask = &fake.calls[0].tensors[1];
        assert_eq!(
            (fill_mask.sizes.clone(), fill_mask.strides.clone()),
            (vec![3, 4, 5], vec![0, 1, 0])
        );
        // Accumulating, or a mask beside another index, takes the indexing path.
        let list = Arg::OptionalTensorList(vec![None, mask()]);
        let summed = vec![arg(&a), list, arg(&f32s(&[1], 3)), Arg::Boolean(true)];
        let (_, fake) = run("index_put_", "", summed);
        assert_ne!(fake.kernels(), vec!["masked_fill"]);
        let list = Arg::OptionalTensorList(vec![idx(&[1], 4), mask()]);
        let (_, fake) = run("index_put_", "", vec![arg(&a), list, arg(&f32s(&[], 3))]);
        assert_ne!(fake.kernels(), vec!["masked_fill"]);
    }
}
