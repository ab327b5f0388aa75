//! Kernels of data-dependent ops: the sizes they produce (`data-size`), `nonzero` and the
//! `unique` family.

use tch::{TchError, Tensor};

use crate::guest::{Factorization, SizeQuery};

/// The length of `t` along `dim` (negative dims count from the end).
fn len_along(t: &Tensor, dim: i64) -> Result<i64, TchError> {
    let sizes = t.size();
    let at = if dim < 0 {
        dim + sizes.len() as i64
    } else {
        dim
    };
    usize::try_from(at)
        .ok()
        .and_then(|at| sizes.get(at).copied())
        .ok_or_else(|| TchError::Shape(format!("dim {dim} is out of range for {sizes:?}")))
}

/// The size `query` gives for `x`: what the guest needs to shape the op's outputs.
pub fn size(query: SizeQuery, x: &Tensor) -> Result<i64, TchError> {
    match query {
        SizeQuery::Nonzero => x.f_count_nonzero(None::<i64>)?.f_int64_value(&[]),
        SizeQuery::Unique(None) | SizeQuery::UniqueConsecutive(None) => {
            len_along(&unique(query, x, true, false, false)?.0, 0)
        }
        SizeQuery::Unique(Some(dim)) | SizeQuery::UniqueConsecutive(Some(dim)) => {
            len_along(&unique(query, x, true, false, false)?.0, dim)
        }
        SizeQuery::BincountLength => {
            if x.numel() == 0 {
                return Ok(0);
            }
            check_nonnegative(
                x,
                "bincount only supports 1-d non-negative integral inputs.",
            )?;
            Ok(x.f_max()?.f_int64_value(&[])? + 1)
        }
        SizeQuery::Total => {
            check_nonnegative(x, "repeats can not be negative")?;
            x.f_sum(tch::Kind::Int64)?.f_int64_value(&[])
        }
        SizeQuery::LstsqRank((rcond, driver)) => {
            let mut column = x.size();
            match column.len() {
                0 | 1 => return Err(TchError::Shape("lstsq: A is not a matrix".into())),
                dims => column[dims - 1] = 1,
            }
            let b = Tensor::f_zeros(&column, (x.kind(), x.device()))?;
            let (_, _, rank, _) = super::linalg::lstsq(x, &b, rcond, driver)?;
            rank.f_sum(tch::Kind::Int64)?.f_int64_value(&[])
        }
        SizeQuery::FirstNonzero(factorization) => {
            let infos = infos(x, factorization)?;
            let at = infos.f_reshape([-1])?.f_nonzero()?;
            if at.size()[0] == 0 {
                return Ok(infos.numel() as i64);
            }
            at.f_int64_value(&[0, 0])
        }
        SizeQuery::Element((n, factorization)) => {
            let flat = infos(x, factorization)?.f_reshape([-1])?;
            let len = flat.numel() as i64;
            if !(0..len).contains(&n) {
                return Err(TchError::Shape(format!("element {n} of {len}")));
            }
            flat.f_get(n)?.f_int64_value(&[])
        }
        SizeQuery::StorageBytes => Err(TchError::Kind(
            "a storage's size is the storage table's to tell".into(),
        )),
        SizeQuery::Nms(_) => Err(TchError::Kind(
            "nms counts its boxes with their scores, in the vision kernels".into(),
        )),
    }
}

/// `x`, or the infos `factorization` gives for `x`'s matrices.
fn infos(x: &Tensor, factorization: Option<Factorization>) -> Result<Tensor, TchError> {
    match factorization {
        None => Ok(x.shallow_clone()),
        Some(Factorization::Cholesky) => Ok(x.f_linalg_cholesky_ex(false, false)?.1),
        Some(Factorization::Lu(pivot)) => Ok(Tensor::f_linalg_lu_factor_ex(x, pivot, false)?.2),
        Some(Factorization::Ldl(hermitian)) => Ok(x.f_linalg_ldl_factor_ex(hermitian, false)?.2),
    }
}

fn check_nonnegative(x: &Tensor, message: &str) -> Result<(), TchError> {
    if x.numel() > 0 && x.f_min()?.f_int64_value(&[])? < 0 {
        return Err(TchError::Kind(message.into()));
    }
    Ok(())
}

/// Values, inverse indices and counts of `x` as `query` says.
pub fn unique(
    query: SizeQuery,
    x: &Tensor,
    sorted: bool,
    inverse: bool,
    counts: bool,
) -> Result<(Tensor, Tensor, Tensor), TchError> {
    match query {
        SizeQuery::Unique(None) => x.f_internal_unique2(sorted, inverse, counts),
        SizeQuery::Unique(Some(dim)) => x.f_unique_dim(dim, sorted, inverse, counts),
        SizeQuery::UniqueConsecutive(dim) => x.f_unique_consecutive(inverse, counts, dim),
        SizeQuery::Nonzero
        | SizeQuery::BincountLength
        | SizeQuery::Total
        | SizeQuery::LstsqRank(_)
        | SizeQuery::FirstNonzero(_)
        | SizeQuery::Element(_)
        | SizeQuery::StorageBytes
        | SizeQuery::Nms(_) => Err(TchError::Shape(format!("unique was asked for {query:?}"))),
    }
}
