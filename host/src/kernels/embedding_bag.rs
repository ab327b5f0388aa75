//! `nn.EmbeddingBag`'s kernels. libtorch computes the bags; the bookkeeping outputs, whose
//! shapes the guest gives, are filled here the same way on any device: the bag of each
//! index, each bag's count of indices that are not padding (for a mean or a max), and the
//! maxima's rows.

use tch::{Kind, TchError, Tensor};

use crate::guest::{EmbeddingBagParams, TensorMeta};
use crate::storage::kind_of;

const SUM: i64 = 0;
const MEAN: i64 = 1;
const MAX: i64 = 2;

fn bad(message: &str) -> TchError {
    TchError::Kind(format!("embedding_bag: {message}"))
}

/// The bag of each index: the number of bag starts at or before its position, less one.
fn offset2bag(offsets: &Tensor, n: i64, bags: i64, kind: Kind) -> Result<Tensor, TchError> {
    let device = offsets.device();
    if n == 0 || bags <= 1 {
        return Tensor::f_zeros([n], (kind, device));
    }
    let starts = offsets.f_narrow(0, 1, bags - 1)?.f_to_kind(Kind::Int64)?;
    let inside = starts.f_masked_select(&starts.f_lt(n)?)?;
    let ones = Tensor::f_ones(inside.size(), (kind, device))?;
    Tensor::f_zeros([n], (kind, device))?
        .f_index_add(0, &inside, &ones)?
        .f_cumsum(0, kind)
}

/// The CPU's checks of the offsets' values: the first bag starts at 0, the last within
/// the indices.
fn check_offsets(offsets: &Tensor, n: i64) -> Result<(), TchError> {
    let Some(&count) = offsets.size().first() else {
        return Ok(());
    };
    if count == 0 {
        return Ok(());
    }
    let first = offsets.f_int64_value(&[0])?;
    if first != 0 {
        return Err(TchError::Kind(format!(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start \
             from position 0. However, got {first}"
        )));
    }
    let last = offsets.f_int64_value(&[count - 1])?;
    if last > n {
        return Err(TchError::Kind(format!(
            "offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {last}"
        )));
    }
    Ok(())
}

/// `[bags, offset2bag, bag_size, max_indices]` shaped as `outs`.
pub fn forward(
    inputs: &[Tensor],
    p: &EmbeddingBagParams,
    outs: &[TensorMeta],
) -> Result<Vec<Tensor>, TchError> {
    let (Some([weight, indices, offsets]), Some([_, o2b, size, max])) =
        (inputs.get(..3), outs.get(..4))
    else {
        return Err(bad(
            "expected weight, indices and offsets, and four outputs",
        ));
    };
    let device = weight.device();
    if offsets.size()[0] - i64::from(p.include_last_offset) <= 0 {
        // No bags: libtorch's CPU max kernel crashes on this, and the outputs are empty. Its
        // checks of the offsets' values still hold.
        check_offsets(offsets, indices.size()[0])?;
        return outs
            .iter()
            .take(4)
            .map(|meta| Tensor::f_zeros(meta.sizes.as_slice(), (kind_of(meta.dtype), device)))
            .collect();
    }
    let (values, _, _, maxima) = Tensor::f_internal_embedding_bag_forward_only(
        weight,
        indices,
        offsets,
        p.scale_grad_by_freq,
        p.mode,
        false,
        inputs.get(3),
        p.include_last_offset,
        p.padding_idx,
    )?;
    let kind = kind_of(o2b.dtype);
    let n = indices.size()[0];
    let bags = values.size()[0];
    let of_bag = offset2bag(offsets, n, bags, kind)?;
    let counted = if p.padding_idx >= 0 {
        indices.f_ne(p.padding_idx)?.f_to_kind(kind)?
    } else {
        Tensor::f_ones([n], (kind, device))?
    };
    let bag_size = Tensor::f_zeros(size.sizes.as_slice(), (kind, device))?;
    // As PyTorch's CPU kernel: a sum counts nothing, and a mean's max_indices repeat the
    // counts.
    let bag_size = if p.mode == SUM {
        bag_size
    } else {
        bag_size.f_index_add(0, &of_bag, &counted)?
    };
    let max_indices = match p.mode {
        MAX => maxima.f_to_kind(kind)?,
        MEAN => bag_size.copy(),
        _ => Tensor::f_zeros(max.sizes.as_slice(), (kind, device))?,
    };
    let of_bag = if o2b.sizes == [0] {
        of_bag.f_narrow(0, 0, 0)?
    } else {
        of_bag
    };
    Ok(vec![values, of_bag, bag_size, max_indices])
}

/// `offset2bag` as given, or recomputed from every offset where the forward left it empty
/// (as PyTorch's backward recomputes it, a last offset included).
fn full_offset2bag(given: &Tensor, offsets: &Tensor, indices: &Tensor) -> Result<Tensor, TchError> {
    let n = indices.size()[0];
    if given.size()[0] == n {
        return Ok(given.shallow_clone());
    }
    offset2bag(offsets, n, offsets.size()[0], given.kind())
}

/// Indices and offsets in one dtype, as PyTorch's backwards take them
/// (`promoteIndicesAndOffsets`): Int64 where either is.
fn promoted(indices: &Tensor, offsets: &Tensor) -> Result<(Tensor, Tensor), TchError> {
    if indices.kind() == offsets.kind() {
        return Ok((indices.shallow_clone(), offsets.shallow_clone()));
    }
    Ok((
        indices.f_to_kind(Kind::Int64)?,
        offsets.f_to_kind(Kind::Int64)?,
    ))
}

/// The weight's gradient from `[grad, indices, offsets, offset2bag, bag_size, max_indices(,
/// per_sample_weights)]`.
pub fn backward(
    inputs: &[Tensor],
    p: &EmbeddingBagParams,
    num_weights: i64,
) -> Result<Tensor, TchError> {
    let Some([grad, indices, offsets, of_bag, bag_size, max_indices]) = inputs.get(..6) else {
        return Err(bad("the backward expects six inputs"));
    };
    if grad.size().first() == Some(&0) {
        // No bags, no gradient: libtorch's CPU kernels read past the empty `grad`.
        let rows = [num_weights, grad.size()[1]];
        return Tensor::f_zeros(rows, (grad.kind(), grad.device()));
    }
    let (indices, offsets) = promoted(indices, offsets)?;
    let of_bag = full_offset2bag(of_bag, &offsets, &indices)?;
    Tensor::f_internal_embedding_bag_dense_backward(
        grad,
        &indices,
        &of_bag,
        bag_size,
        max_indices,
        num_weights,
        p.scale_grad_by_freq,
        p.mode,
        inputs.get(6),
        p.padding_idx,
    )
}

/// The per-sample weights' gradient from `[grad, weight, indices, offsets, offset2bag]`.
pub fn per_sample_weights_backward(
    inputs: &[Tensor],
    p: &EmbeddingBagParams,
) -> Result<Tensor, TchError> {
    let Some([grad, weight, indices, offsets, of_bag]) = inputs.get(..5) else {
        return Err(bad("the per-sample weights' backward expects five inputs"));
    };
    if grad.size().first() == Some(&0) {
        return Tensor::f_zeros(indices.size(), (grad.kind(), grad.device()));
    }
    let (indices, offsets) = promoted(indices, offsets)?;
    let of_bag = full_offset2bag(of_bag, &offsets, &indices)?;
    Tensor::f_internal_embedding_bag_per_sample_weights_backward(
        grad,
        weight,
        &indices,
        &offsets,
        &of_bag,
        p.mode,
        p.padding_idx,
    )
}
