//! The matrix decompositions and solvers: libtorch's (LAPACK's) own, results in the order
//! the guest's outputs are.

use tch::{Device, Kind, TchError, Tensor};

use crate::guest::{LinalgOp, LstsqDriver};

/// The results of `op` on `inputs` (`A`, then `B` for a solve).
pub fn run(op: &LinalgOp, inputs: &[Tensor]) -> Result<Vec<Tensor>, TchError> {
    let a = inputs
        .first()
        .ok_or_else(|| TchError::Kind("linalg: no input".into()))?;
    Ok(match op {
        LinalgOp::Inv => pair(Tensor::f_linalg_inv_ex(a, false)?),
        LinalgOp::Cholesky(upper) => pair(a.f_linalg_cholesky_ex(*upper, false)?),
        LinalgOp::Det => {
            let (det, lu, pivots) = Tensor::f_internal_linalg_det(a)?;
            vec![det, lu, pivots]
        }
        LinalgOp::LuFactor(pivot) => {
            let (lu, pivots, info) = Tensor::f_linalg_lu_factor_ex(a, *pivot, false)?;
            vec![lu, pivots, info]
        }
        LinalgOp::SolveTriangular((upper, left, unit)) => {
            let b = inputs
                .get(1)
                .ok_or_else(|| TchError::Kind("linalg solve_triangular: no B".into()))?;
            vec![a.f_linalg_solve_triangular(b, *upper, *left, *unit)?]
        }
        LinalgOp::LuUnpack((data, perm)) => {
            let pivots = inputs
                .get(1)
                .ok_or_else(|| TchError::Kind("lu_unpack: no pivots".into()))?;
            let (p, l, u) = Tensor::f_lu_unpack(a, pivots, *data, *perm)?;
            let empty = |t: Tensor, wanted: bool| if wanted { Ok(t) } else { t.f_reshape([0]) };
            vec![empty(p, *perm)?, empty(l, *data)?, empty(u, *data)?]
        }
        LinalgOp::LuSolve((left, adjoint)) => {
            let (Some(pivots), Some(b)) = (inputs.get(1), inputs.get(2)) else {
                return Err(TchError::Kind("linalg lu_solve: no pivots or B".into()));
            };
            vec![Tensor::f_linalg_lu_solve(a, pivots, b, *left, *adjoint)?]
        }
        LinalgOp::Slogdet => {
            let (sign, logabsdet, lu, pivots) = Tensor::f_internal_linalg_slogdet(a)?;
            vec![sign, logabsdet, lu, pivots]
        }
        LinalgOp::Solve(left) => {
            let b = inputs
                .get(1)
                .ok_or_else(|| TchError::Kind("linalg solve: no B".into()))?;
            let (x, lu, pivots, info) = Tensor::f_internal_linalg_solve_ex(a, b, *left, false)?;
            vec![x, lu, pivots, info]
        }
        LinalgOp::Qr(mode) => pair(Tensor::f_linalg_qr(a, mode)?),
        // `torch.svd` gives V where `_linalg_svd` gives Vh; it takes no `driver`, which tch
        // cannot pass as None.
        LinalgOp::Svd((full, compute_uv)) => {
            let (u, s, v) = a.f_svd(!full, *compute_uv)?;
            vec![u, s, v.f_mh()?]
        }
        LinalgOp::CholeskyFactor(upper) => vec![a.f_cholesky(*upper)?],
        LinalgOp::CholeskySolve(upper) => {
            vec![a.f_internal_cholesky_solve_helper(second(inputs)?, *upper)?]
        }
        LinalgOp::CholeskyInverse(upper) => vec![a.f_cholesky_inverse(*upper)?],
        LinalgOp::TriangularSolve((upper, transpose, unit)) => {
            pair(a.f_triangular_solve(second(inputs)?, *upper, *transpose, *unit)?)
        }
        LinalgOp::Eig(true) => pair(a.f_linalg_eig()?),
        LinalgOp::Eig(false) => vec![a.f_internal_linalg_eigvals()?],
        LinalgOp::Lu(pivot) => {
            let (p, l, u) = Tensor::f_linalg_lu(a, *pivot)?;
            vec![p, l, u]
        }
        LinalgOp::Geqrf => pair(a.f_geqrf()?),
        LinalgOp::HouseholderProduct => vec![a.f_linalg_householder_product(second(inputs)?)?],
        LinalgOp::Ormqr((left, transpose)) => {
            let [_, tau, c] = inputs else {
                return Err(TchError::Kind("ormqr: expected A, tau and C".into()));
            };
            vec![a.f_ormqr(tau, c, *left, *transpose)?]
        }
        LinalgOp::LdlFactor(hermitian) => {
            let (ld, pivots, info) = a.f_linalg_ldl_factor_ex(*hermitian, false)?;
            vec![ld, pivots, info]
        }
        LinalgOp::LdlSolve(hermitian) => {
            let [_, pivots, b] = inputs else {
                return Err(TchError::Kind(
                    "ldl_solve: expected LD, pivots and B".into(),
                ));
            };
            vec![Tensor::f_linalg_ldl_solve(a, pivots, b, *hermitian)?]
        }
        LinalgOp::Lstsq((rcond, driver)) => {
            let (x, residuals, rank, singular) = lstsq(a, second(inputs)?, *rcond, *driver)?;
            vec![x, residuals, rank, singular]
        }
        LinalgOp::Eigh((upper, compute_v)) => {
            let uplo = if *upper { "U" } else { "L" };
            pair(Tensor::f_internal_linalg_eigh(a, uplo, *compute_v)?)
        }
    })
}

fn second(inputs: &[Tensor]) -> Result<&Tensor, TchError> {
    inputs
        .get(1)
        .ok_or_else(|| TchError::Kind("linalg: no second input".into()))
}

fn pair((a, b): (Tensor, Tensor)) -> Vec<Tensor> {
    vec![a, b]
}

/// `linalg_lstsq(a, b)` on `a`'s device, with zero residuals where the driver gives none
/// for a tall system because some matrix fell short of full rank (the guest drops them then).
/// CUDA's libtorch has only `gels`: the other drivers run on the CPU.
pub fn lstsq(
    a: &Tensor,
    b: &Tensor,
    rcond: Option<f64>,
    driver: LstsqDriver,
) -> Result<(Tensor, Tensor, Tensor, Tensor), TchError> {
    let device = a.device();
    let on = if driver == LstsqDriver::Gels {
        device
    } else {
        Device::Cpu
    };
    let name = match driver {
        LstsqDriver::Gels => "gels",
        LstsqDriver::Gelsy => "gelsy",
        LstsqDriver::Gelsd => "gelsd",
        LstsqDriver::Gelss => "gelss",
    };
    let (x, residuals, rank, singular) = a.f_to(on)?.f_linalg_lstsq(&b.f_to(on)?, rcond, name)?;
    let (m, n) = (a.size()[a.dim() - 2], a.size()[a.dim() - 1]);
    let residuals = if residuals.numel() == 0 && m > n && driver != LstsqDriver::Gelsy {
        let real = match x.kind() {
            Kind::ComplexFloat => Kind::Float,
            Kind::ComplexDouble => Kind::Double,
            other => other,
        };
        // One per column of the solution: its sizes without the row dim.
        let mut shape = x.size();
        if b.dim() == a.dim() {
            shape.remove(shape.len() - 2);
        } else {
            shape.push(1);
            shape.remove(shape.len() - 2);
        }
        Tensor::f_zeros(&shape, (real, x.device()))?
    } else {
        residuals
    };
    Ok((
        x.f_to(device)?,
        residuals.f_to(device)?,
        rank.f_to(device)?,
        singular.f_to(device)?,
    ))
}
