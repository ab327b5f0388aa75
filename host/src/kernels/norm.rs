//! Normalization kernels. tch has the forwards; the backwards (whose `bool[3]` masks tch
//! does not bind) run libtorch's own kernel through [`aten`](super::aten) (batch norm) or
//! are composed here.

use tch::{Kind, TchError, Tensor};

/// The dtype libtorch's kernels compute `kind` in: float for the half types, which round
/// once, at the end (the callers' outputs cast back).
fn opmath(kind: Kind) -> Kind {
    match kind {
        Kind::Half | Kind::BFloat16 => Kind::Float,
        other => other,
    }
}

/// The normalization backward over the last dim of `[rows, d]` views: `x`, `grad` and the
/// weight-scaled `g` are `[rows, d]`, `mean`/`rstd` `[rows, 1]`. Returns the input gradient
/// and `x_hat` (to reduce the parameter gradients from).
fn normalized_backward(
    x: &Tensor,
    g: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
) -> Result<(Tensor, Tensor), TchError> {
    let kind = x.kind();
    let x_hat = x.f_sub(mean)?.f_mul(rstd)?;
    let g_mean = g.f_mean_dim(-1, true, kind)?;
    let gx_mean = g.f_mul(&x_hat)?.f_mean_dim(-1, true, kind)?;
    let dx = g
        .f_sub(&g_mean)?
        .f_sub(&x_hat.f_mul(&gx_mean)?)?
        .f_mul(rstd)?;
    Ok((dx, x_hat))
}

/// `native_layer_norm_backward` from the saved `mean` and `rstd`.
pub fn layer_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    normalized: &[i64],
    mean: &Tensor,
    rstd: &Tensor,
    weight: Option<&Tensor>,
) -> Result<[Tensor; 3], TchError> {
    let kind = opmath(x.kind());
    let d: i64 = normalized.iter().product();
    let x2 = x.f_reshape([-1, d])?.f_to_kind(kind)?;
    let grad2 = grad.f_reshape([-1, d])?.f_to_kind(kind)?;
    let (mean2, rstd2) = (
        mean.f_reshape([-1, 1])?.f_to_kind(kind)?,
        rstd.f_reshape([-1, 1])?.f_to_kind(kind)?,
    );
    let g = match weight {
        Some(w) => grad2.f_mul(&w.f_reshape([1, d])?.f_to_kind(kind)?)?,
        None => grad2.shallow_clone(),
    };
    let (dx, x_hat) = normalized_backward(&x2, &g, &mean2, &rstd2)?;
    let dw = grad2.f_mul(&x_hat)?.f_sum_dim_intlist(0, false, kind)?;
    let db = grad2.f_sum_dim_intlist(0, false, kind)?;
    Ok([
        dx.f_reshape(x.size())?,
        dw.f_reshape(normalized)?,
        db.f_reshape(normalized)?,
    ])
}

/// `native_group_norm_backward` from the saved `mean` and `rstd` (`[n, groups]`).
#[allow(clippy::too_many_arguments)]
pub fn group_norm_backward(
    grad: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    rstd: &Tensor,
    weight: Option<&Tensor>,
    n: i64,
    c: i64,
    groups: i64,
) -> Result<[Tensor; 3], TchError> {
    let kind = opmath(x.kind());
    // Explicit sizes: `-1` is ambiguous for an empty batch.
    let hw = if n * c == 0 {
        0
    } else {
        x.numel() as i64 / (n * c)
    };
    let per_group = if groups == 0 { 0 } else { c / groups * hw };
    let x3 = x.f_reshape([n, c, hw])?.f_to_kind(kind)?;
    let grad3 = grad.f_reshape([n, c, hw])?.f_to_kind(kind)?;
    let g = match weight {
        Some(w) => grad3.f_mul(&w.f_reshape([1, c, 1])?.f_to_kind(kind)?)?,
        None => grad3.shallow_clone(),
    };
    let (mean2, rstd2) = (
        mean.f_reshape([n * groups, 1])?.f_to_kind(kind)?,
        rstd.f_reshape([n * groups, 1])?.f_to_kind(kind)?,
    );
    let (dx, x_hat) = normalized_backward(
        &x3.f_reshape([n * groups, per_group])?,
        &g.f_reshape([n * groups, per_group])?,
        &mean2,
        &rstd2,
    )?;
    let x_hat3 = x_hat.f_reshape([n, c, hw])?;
    let dw = grad3
        .f_mul(&x_hat3)?
        .f_sum_dim_intlist([0, 2].as_slice(), false, kind)?;
    let db = grad3.f_sum_dim_intlist([0, 2].as_slice(), false, kind)?;
    Ok([dx.f_reshape(x.size())?, dw, db])
}
