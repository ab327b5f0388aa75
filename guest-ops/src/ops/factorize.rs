//! Matrix decompositions and solvers: `linalg_inv_ex`, `linalg_cholesky_ex`, `_linalg_det`,
//! `_linalg_slogdet`, `linalg_lu_factor_ex`, `lu_unpack`, `linalg_lu_solve`, `_linalg_solve_ex`,
//! `linalg_solve_triangular`, `linalg_qr`, `_linalg_svd`, `_linalg_eigh`, and the older
//! `cholesky`, `cholesky_solve` (its helper), `cholesky_inverse` and `triangular_solve`,
//! `linalg_lstsq.out`, the Householder reflectors of `geqrf` (`linalg_householder_product`,
//! `ormqr`) and the LDL decomposition (`linalg_ldl_factor_ex`, `linalg_ldl_solve`).
//! Matrices come out batched column-major, as LAPACK writes them; vectors and infos
//! contiguous.

use crate::error::{ensure, ensure_kernel, Error, Result};
use crate::kernels::failed;
use crate::ops::args::Args;
use crate::ops::copy::warn_if_imaginary_dropped;
use crate::ops::ctx::Ctx;
use crate::ops::data::count;
use crate::ops::library::launch;
use crate::ops::Outputs;
use crate::rules::layout::contiguous_strides;
use crate::rules::shape::{broadcast, broadcast_all, fmt_shape, numel};
use crate::types::{
    Factorization, LibraryOp, LinalgOp, LstsqDriver, Output, ScalarType, SizeQuery, TensorMeta,
};

/// Strides of a batch of column-major matrices of `shape`.
fn column_major(shape: &[i64]) -> Result<Vec<i64>> {
    let n = shape.len();
    let mut transposed = shape.to_vec();
    transposed.swap(n - 2, n - 1);
    let mut strides = contiguous_strides(&transposed)?;
    strides.swap(n - 2, n - 1);
    Ok(strides)
}

/// The fresh outputs of one op: each a shape, a dtype and whether it is laid out as a batch
/// of column-major matrices (else contiguous).
struct Outs(Vec<(Vec<i64>, ScalarType, bool)>);

impl Outs {
    fn make(self, cx: &mut Ctx) -> Result<Vec<TensorMeta>> {
        self.0
            .into_iter()
            .map(|(shape, dtype, matrix)| {
                let strides = if matrix {
                    column_major(&shape)?
                } else {
                    contiguous_strides(&shape)?
                };
                cx.empty(&shape, strides, dtype)
            })
            .collect()
    }
}

/// Whether LAPACK, which the CPU's factorizations call, has routines for `dtype`.
fn has_lapack_kernel(dtype: ScalarType) -> bool {
    matches!(
        dtype,
        ScalarType::Float32 | ScalarType::Float64 | ScalarType::Complex64 | ScalarType::Complex128
    )
}

/// `name`'s checks on `a`: a floating or complex batch of matrices (square ones with
/// `square`).
fn check_input(name: &str, a: &TensorMeta, square: bool) -> Result<()> {
    check_matrices(name, a)?;
    if matches!(a.dtype, ScalarType::Float16 | ScalarType::Bfloat16) {
        return Err(Error::invalid(format!(
            "{name}: Low precision dtypes not supported. Got {}",
            a.dtype.name()
        )));
    }
    check_floating_or_complex(name, a)?;
    check_square(name, a, square)
}

/// `check_input` for the ops whose CPU kernel `kernel` is what refuses the dtypes LAPACK
/// lacks, once the op's shape checks pass: with `own_dtype_check` the op refuses integers
/// itself first, so the kernel refuses only half precision.
fn check_input_then_kernel(
    name: &str,
    a: &TensorMeta,
    square: bool,
    kernel: &str,
    own_dtype_check: bool,
) -> Result<()> {
    check_matrices(name, a)?;
    check_square(name, a, square)?;
    if own_dtype_check && !matches!(a.dtype, ScalarType::Float16 | ScalarType::Bfloat16) {
        check_floating_or_complex(name, a)?;
    }
    check_kernel_dtype(kernel, a)
}

fn check_matrices(name: &str, a: &TensorMeta) -> Result<()> {
    ensure!(
        a.dim() >= 2,
        "{name}: The input tensor A must have at least 2 dimensions."
    );
    Ok(())
}

/// The LU functions' own rank check, before any other.
fn check_lu_rank(name: &str, a: &TensorMeta) -> Result<()> {
    ensure!(
        a.dim() >= 2,
        "{name}: Expected tensor with 2 or more dimensions. Got size: {} instead",
        fmt_shape(&a.sizes)
    );
    Ok(())
}

fn check_floating_or_complex(name: &str, a: &TensorMeta) -> Result<()> {
    ensure!(
        a.dtype.is_floating() || a.dtype.is_complex(),
        "{name}: Expected a floating point or complex tensor as input. Got {}",
        a.dtype.name()
    );
    Ok(())
}

fn check_square(name: &str, a: &TensorMeta, square: bool) -> Result<()> {
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    ensure!(
        !square || m == n,
        "{name}: A must be batches of square matrices, but they are {m} by {n} matrices"
    );
    Ok(())
}

/// The dtype check of a CPU kernel that calls LAPACK: `kernel`'s `NotImplementedError`
/// unless `a` is float, double or complex.
fn check_kernel_dtype(kernel: &str, a: &TensorMeta) -> Result<()> {
    ensure_kernel!(
        has_lapack_kernel(a.dtype),
        "\"{kernel}\" not implemented for '{}'",
        a.dtype.name()
    );
    Ok(())
}

fn batch(a: &TensorMeta) -> Vec<i64> {
    a.sizes[..a.dim() - 2].to_vec()
}

fn with(mut shape: Vec<i64>, tail: &[i64]) -> Vec<i64> {
    shape.extend_from_slice(tail);
    shape
}

/// Runs `op` on `inputs` into fresh `outs`.
fn lower(cx: &mut Ctx, op: LinalgOp, inputs: &[TensorMeta], outs: Outs) -> Outputs {
    let outs = outs.make(cx)?;
    cx.k.linalg(op, inputs, &outs).map_err(failed("linalg"))?;
    Ok(outs.into_iter().map(Output::Tensor).collect())
}

/// `linalg_inv_ex(A, *, check_errors=False)`: the inverse and the info.
pub fn inv(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let a = args.tensor(0)?;
    check_input("linalg.inv", a, true)?;
    check_factorization(args, 1, cx, a, "linalg.inv_ex", Factorization::Lu(true))?;
    let outs = Outs(vec![
        (a.sizes.clone(), a.dtype, true),
        (batch(a), ScalarType::Int32, false),
    ]);
    lower(cx, LinalgOp::Inv, std::slice::from_ref(a), outs)
}

/// `linalg_cholesky_ex(A, *, upper=False, check_errors=False)`: the factor and the info.
pub fn cholesky(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let a = args.tensor(0)?;
    let upper = args.bool_or(1, false)?;
    check_input_then_kernel("linalg.cholesky", a, true, "cholesky_cpu", true)?;
    check_factorization(
        args,
        2,
        cx,
        a,
        "linalg.cholesky_ex",
        Factorization::Cholesky,
    )?;
    let outs = Outs(vec![
        (a.sizes.clone(), a.dtype, true),
        (batch(a), ScalarType::Int32, false),
    ]);
    lower(cx, LinalgOp::Cholesky(upper), std::slice::from_ref(a), outs)
}

/// `_linalg_det(A)`: the determinant, the LU factors and the pivots.
pub fn det(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let a = args.tensor(0)?;
    check_input_then_kernel("linalg.det", a, true, "lu_cpu", true)?;
    let n = a.sizes[a.dim() - 1];
    let outs = Outs(vec![
        (batch(a), a.dtype, false),
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[n]), ScalarType::Int32, false),
    ]);
    lower(cx, LinalgOp::Det, std::slice::from_ref(a), outs)
}

/// `_linalg_slogdet(A)`: the sign and log-magnitude of the determinant, the LU factors and
/// the pivots.
pub fn slogdet(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let a = args.tensor(0)?;
    check_input("linalg.slogdet", a, true)?;
    let n = a.sizes[a.dim() - 1];
    let outs = Outs(vec![
        (batch(a), a.dtype, false),
        (batch(a), a.dtype.real_part(), false),
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[n]), ScalarType::Int32, false),
    ]);
    lower(cx, LinalgOp::Slogdet, std::slice::from_ref(a), outs)
}

/// `linalg_lu_factor_ex(A, *, pivot=True, check_errors=False)`: the LU factors, the pivots
/// and the info.
pub fn lu_factor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let a = args.tensor(0)?;
    check_lu_rank("torch.lu_factor", a)?;
    check_kernel_dtype("lu_cpu", a)?;
    check_input("torch.lu_factor", a, false)?;
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    let outs = Outs(vec![
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[m.min(n)]), ScalarType::Int32, false),
        (batch(a), ScalarType::Int32, false),
    ]);
    let pivot = args.bool_or(1, true)?;
    let lu = Factorization::Lu(pivot);
    check_factorization(args, 2, cx, a, "torch.linalg.lu_factor_ex", lu)?;
    lower(cx, LinalgOp::LuFactor(pivot), std::slice::from_ref(a), outs)
}

/// `lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True)`: the permutation
/// `P`, and the unit lower `L` and upper `U` factors, contiguous; those not unpacked are empty.
pub fn lu_unpack(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (lu, pivots) = (args.tensor(0)?, args.tensor(1)?);
    let (data, perm) = (args.bool_or(2, true)?, args.bool_or(3, true)?);
    check_lu_rank("torch.lu_unpack", lu)?;
    let (m, n) = (lu.sizes[lu.dim() - 2], lu.sizes[lu.dim() - 1]);
    let k = m.min(n);
    ensure!(
        !perm || pivots.dtype == ScalarType::Int32,
        "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n\
         Note: this function is intended to be used with the output produced by \
         torch.linalg.lu_factor"
    );
    // The CPU reads as many pivots as the matrices have rows whatever their shape (past the
    // end of a short tensor); remote asks for the shape `lu_factor` gives.
    ensure!(
        !perm || pivots.sizes == with(batch(lu), &[k]),
        "torch.lu_unpack: expected Int pivots of shape {}, but got {}",
        fmt_shape(&with(batch(lu), &[k])),
        pivots.describe()
    );
    let shape = |wanted: bool, tail: &[i64]| {
        if wanted {
            with(batch(lu), tail)
        } else {
            vec![0]
        }
    };
    let outs = Outs(vec![
        (shape(perm, &[m, m]), lu.dtype, false),
        (shape(data, &[m, k]), lu.dtype, false),
        (shape(data, &[k, n]), lu.dtype, false),
    ]);
    let inputs = [lu.clone(), pivots.clone()];
    lower(cx, LinalgOp::LuUnpack((data, perm)), &inputs, outs)
}

/// `linalg_solve_triangular(A, B, *, upper, left=True, unitriangular=False)`: the solution
/// of the triangular system, column-major, with the batches of `A` and `B` broadcast.
pub fn solve_triangular(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let upper = args.bool_or(2, false)?;
    let (left, unit) = (args.bool_or(3, true)?, args.bool_or(4, false)?);
    check_input_then_kernel(
        "linalg.solve_triangular",
        a,
        true,
        "triangular_solve_cpu",
        false,
    )?;
    let shape = checked_solution_shape("linalg.solve_triangular", a, b, left, false)?;
    // The CPU solves in A's dtype, casting B into it.
    let cast = (b.dtype != a.dtype)
        .then(|| {
            warn_if_imaginary_dropped(cx, b, a.dtype)?;
            let cast = cx.empty_contiguous(&b.sizes, a.dtype)?;
            cx.k.copy(b, &cast).map_err(failed("copy"))?;
            Ok::<_, Error>(cast)
        })
        .transpose()?;
    let inputs = [a.clone(), cast.clone().unwrap_or_else(|| b.clone())];
    let op = LinalgOp::SolveTriangular((upper, left, unit));
    let outputs = lower(cx, op, &inputs, Outs(vec![(shape, a.dtype, true)]))?;
    if let Some(cast) = cast {
        cx.free(&cast);
    }
    Ok(outputs)
}

/// `cholesky(A, upper=False)`, deprecated for `linalg.cholesky`: the factor alone.
pub fn cholesky_factor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let a = args.tensor(0)?;
    check_kernel_dtype("cholesky_cpu", a)?;
    check_input("cholesky", a, true)?;
    cx.warn_once(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a \
         future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\nL = \
         torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be replaced \
         with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce equivalent results \
         for all valid (symmetric positive definite) inputs.",
    );
    // An empty batch comes back as `empty_like`, contiguous.
    let matrix = a.sizes.iter().all(|&s| s != 0);
    let outs = Outs(vec![(a.sizes.clone(), a.dtype, matrix)]);
    lower(
        cx,
        LinalgOp::CholeskyFactor(args.bool_or(1, false)?),
        std::slice::from_ref(a),
        outs,
    )
}

/// `cholesky_inverse(L, upper=False)`: `(L L^H)^-1` from the factor.
pub fn cholesky_inverse(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let l = args.tensor(0)?;
    check_input_then_kernel(
        "cholesky_inverse",
        l,
        true,
        "cholesky_inverse_out_cpu",
        false,
    )?;
    let outs = Outs(vec![(l.sizes.clone(), l.dtype, true)]);
    let op = LinalgOp::CholeskyInverse(args.bool_or(1, false)?);
    lower(cx, op, std::slice::from_ref(l), outs)
}

/// `linearSolveCheckInputs`: `b` and a square `A` of one dtype whose sizes fit `AX = b`,
/// each with at least two dims; the batches broadcast.
fn check_system(name: &str, b: &TensorMeta, a: &TensorMeta) -> Result<Vec<i64>> {
    ensure!(
        b.dim() >= 2 && a.dim() >= 2,
        "torch.{name}: Expected b and A to have at least 2 dimensions, but they have {} and {}",
        b.dim(),
        a.dim()
    );
    ensure!(
        b.dtype == a.dtype,
        "Expected b and A to have the same dtype, but found b of type {} and A of type {} \
         instead.",
        b.dtype.name(),
        a.dtype.name()
    );
    ensure_kernel!(
        has_lapack_kernel(a.dtype),
        "\"{name}_cpu\" not implemented for '{}'",
        a.dtype.name()
    );
    let n = a.sizes[a.dim() - 1];
    let (m, rows, cols) = (
        a.sizes[a.dim() - 2],
        b.sizes[b.dim() - 2],
        b.sizes[b.dim() - 1],
    );
    ensure!(
        m == n,
        "A must be batches of square matrices, but they are {m} by {n} matrices"
    );
    ensure!(
        rows == n,
        "Incompatible matrix sizes for {name}: each A matrix is {n} by {n} but each b matrix is \
         {rows} by {cols}"
    );
    broadcast(&batch(b), &batch(a))
}

/// `_cholesky_solve_helper(B, L, upper)`: `cholesky_solve`'s kernel, whose composite checked
/// and broadcast its arguments already; the solution, column-major.
pub fn cholesky_solve(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (b, l) = (args.tensor(0)?, args.tensor(1)?);
    let batch = check_system("cholesky_solve", b, l)?;
    let (rows, cols) = (b.sizes[b.dim() - 2], b.sizes[b.dim() - 1]);
    let outs = Outs(vec![(with(batch, &[rows, cols]), b.dtype, true)]);
    let inputs = [b.clone(), l.clone()];
    lower(
        cx,
        LinalgOp::CholeskySolve(args.bool_or(2, false)?),
        &inputs,
        outs,
    )
}

/// `triangular_solve(B, A, upper=True, transpose=False, unitriangular=False)`, deprecated for
/// `linalg.solve_triangular`: the solution and a copy of `A`, both broadcast, column-major.
pub fn triangular_solve(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (b, a) = (args.tensor(0)?, args.tensor(1)?);
    let batch = check_system("triangular_solve", b, a)?;
    // PyTorch's message lacks the space after `solve_triangular`.
    cx.warn_once(
        "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular\
         and will be removed in a future PyTorch release.\ntorch.linalg.solve_triangular has \
         its arguments reversed and does not return a copy of one of the inputs.\nX = \
         torch.triangular_solve(B, A).solution\nshould be replaced with\nX = \
         torch.linalg.solve_triangular(A, B).",
    );
    let (rows, cols) = (b.sizes[b.dim() - 2], b.sizes[b.dim() - 1]);
    let n = a.sizes[a.dim() - 1];
    let outs = Outs(vec![
        (with(batch.clone(), &[rows, cols]), b.dtype, true),
        (with(batch, &[n, n]), a.dtype, true),
    ]);
    let flags = (
        args.bool_or(2, true)?,
        args.bool_or(3, false)?,
        args.bool_or(4, false)?,
    );
    let inputs = [b.clone(), a.clone()];
    lower(cx, LinalgOp::TriangularSolve(flags), &inputs, outs)
}

/// The sizes of a batch's matrices as the solvers' messages give them: `4x4`.
fn matrix_dims(sizes: &[i64]) -> String {
    let from_end = |k: usize| sizes.len().checked_sub(k).map_or(1, |i| sizes[i]);
    format!("{}x{}", from_end(2), from_end(1))
}

/// The shape of `X` in `AX = B` (or `XA = B` unless `left`) for square `A`: `B`'s matrix dims
/// after the broadcast batch.
fn solution_shape(name: &str, a: &TensorMeta, b: &TensorMeta, left: bool) -> Result<Vec<i64>> {
    checked_solution_shape(name, a, b, left, true)
}

/// [`solution_shape`], where `A` and `B` must share a dtype only if `same_dtype`.
fn checked_solution_shape(
    name: &str,
    a: &TensorMeta,
    b: &TensorMeta,
    left: bool,
    same_dtype: bool,
) -> Result<Vec<i64>> {
    ensure!(
        b.dim() >= 2,
        "{name}: The input tensor B must have at least 2 dimensions."
    );
    let a_name = if name == "linalg.lu_solve" { "LU" } else { "A" };
    ensure!(
        !same_dtype || a.dtype == b.dtype,
        "{name}: Expected {a_name} and B to have the same dtype, but found {a_name} of type {} \
         and B of type {} instead",
        a.dtype.name(),
        b.dtype.name()
    );
    let n = a.sizes[a.dim() - 1];
    let (rows, cols) = (b.sizes[b.dim() - 2], b.sizes[b.dim() - 1]);
    ensure!(
        (if left { rows } else { cols }) == n,
        "{name}: Incompatible shapes of A and B for the equation {} ({} and {})",
        if left { "AX = B" } else { "XA = B" },
        matrix_dims(&a.sizes),
        matrix_dims(&b.sizes)
    );
    // The CPU broadcasts B's batch against A's, which orders a mismatch's sizes.
    Ok(with(broadcast(&batch(b), &batch(a))?, &[rows, cols]))
}

/// `linalg_lu_solve(LU, pivots, B, *, left=True, adjoint=False)`: the solution from the LU
/// factors, with the batch of `LU` and `B` broadcast.
pub fn lu_solve(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (lu, pivots, b) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (left, adjoint) = (args.bool_or(3, true)?, args.bool_or(4, false)?);
    // The CPU's meta function, in its order.
    check_floating_or_complex("torch.linalg.lu_solve", lu)?;
    ensure!(
        lu.dtype == b.dtype,
        "linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type {} and \
         B of type {} instead",
        lu.dtype.name(),
        b.dtype.name()
    );
    ensure!(
        pivots.dtype == ScalarType::Int32,
        "linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32"
    );
    check_matrices("torch.linalg.lu_solve", lu)?;
    check_square("torch.linalg.lu_solve", lu, true)?;
    let shape = solution_shape("linalg.lu_solve", lu, b, left)?;
    let n = lu.sizes[lu.dim() - 1];
    ensure!(
        pivots.sizes.last() == Some(&n),
        "linalg.lu_solve: Number of pivots per batch should be same as the dimension of the matrix"
    );
    ensure!(
        pivots.sizes[..] == lu.sizes[..lu.dim() - 1],
        "linalg.lu_solve: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots \
         with shape {} instead",
        fmt_shape(&pivots.sizes)
    );
    // The CPU returns before its kernel when there is nothing to solve.
    if numel(&lu.sizes)? > 0 && numel(&b.sizes)? > 0 {
        check_kernel_dtype("linalg.lu_solve_cpu", lu)?;
    }
    // `left=False` solves the transposed system: its solution is the transpose of a
    // column-major one, so row-major.
    let outs = Outs(vec![(shape, b.dtype, left)]);
    let inputs = [lu.clone(), pivots.clone(), b.clone()];
    lower(cx, LinalgOp::LuSolve((left, adjoint)), &inputs, outs)
}

/// `_linalg_solve_ex(A, B, *, left=True, check_errors=False)`: the solution, LU, pivots and
/// info. A `B` shaped like `A` without its last dim is a batch of vectors.
pub fn solve(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let left = args.bool_or(2, true)?;
    check_input_then_kernel("linalg.solve", a, true, "lu_cpu", true)?;
    ensure!(
        a.dtype == b.dtype,
        "linalg.solve: Expected A and B to have the same dtype, but found A of type {} and B of \
         type {} instead",
        a.dtype.name(),
        b.dtype.name()
    );
    let vector = b.dim() == 1 || (a.dim() - 1 == b.dim() && b.sizes[..] == a.sizes[..a.dim() - 1]);
    ensure!(
        left || !vector,
        "linalg.solve: Vector broadcasting of the left hand side is not supported for left=False. \
         In this case linalg.solve is equivalent to B / A.squeeze(-1)"
    );
    let n = a.sizes[a.dim() - 1];
    let b_matrix = if vector {
        with(b.sizes.clone(), &[1])
    } else {
        b.sizes.clone()
    };
    ensure!(
        b_matrix.len() >= 2,
        "linalg.solve: The input tensor B must have at least 2 dimensions."
    );
    let (rows, cols) = (b_matrix[b_matrix.len() - 2], b_matrix[b_matrix.len() - 1]);
    let fits = if left { rows == n } else { cols == n };
    ensure!(
        fits,
        "linalg.solve: Incompatible shapes of A and B for the equation {} ({} and {})",
        if left { "AX = B" } else { "XA = B" },
        matrix_dims(&a.sizes),
        matrix_dims(&b_matrix)
    );
    check_factorization(
        args,
        3,
        cx,
        a,
        "torch.linalg.solve_ex",
        Factorization::Lu(true),
    )?;
    let b_batch = &b_matrix[..b_matrix.len() - 2];
    let shared = broadcast_all([b_batch, &a.sizes[..a.dim() - 2]])?;
    // LAPACK solves in column-major order; XA = B is solved transposed, so row-major.
    let result = if vector {
        let shape = with(shared, &[rows]);
        let matrix = shape.len() >= 2;
        (shape, a.dtype, matrix)
    } else {
        (with(shared, &[rows, cols]), a.dtype, left)
    };
    let outs = Outs(vec![
        result,
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[n]), ScalarType::Int32, false),
        (batch(a), ScalarType::Int32, false),
    ]);
    lower(cx, LinalgOp::Solve(left), &[a.clone(), b.clone()], outs)
}

/// `linalg_lstsq.out(A, B, rcond=None, *, driver=None, solution, residuals, rank,
/// singular_values)`, which `linalg_lstsq` calls with empty outputs; each comes back in a new
/// storage laid out as the CPU's. The solution is the top `n` rows of LAPACK's column-major
/// `max(m, n)`-row buffer; which of the other three a driver gives follows the CPU.
pub fn lstsq(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(8)?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let rcond = args.opt_float(2)?;
    let driver = lstsq_driver(args.opt_str(3)?)?;
    let system = LeastSquares::new(a, b)?;
    let (m, n, k) = (system.m, system.n, system.k);
    let rows = m.max(n);
    let buffer = cx.empty(
        &with(system.batch.clone(), &[rows, k]),
        column_major(&with(system.batch.clone(), &[rows, k]))?,
        a.dtype,
    )?;
    let mut solution_strides = buffer.strides.clone();
    let mut solution_sizes = with(system.batch.clone(), &[n, k]);
    if system.vector {
        solution_sizes.pop();
        solution_strides.pop();
    }
    let solution = buffer.view(solution_sizes, solution_strides, 0);
    let has_rank = driver != LstsqDriver::Gels;
    let svd = matches!(driver, LstsqDriver::Gelsd | LstsqDriver::Gelss);
    let residuals = m > n && driver != LstsqDriver::Gelsy;
    let shaped = |wanted: bool, shape: Vec<i64>| if wanted { shape } else { vec![0] };
    let real = a.dtype.real_part();
    let outs = Outs(vec![
        (
            shaped(residuals, with(system.batch.clone(), &[k])),
            real,
            false,
        ),
        (
            shaped(has_rank, system.batch.clone()),
            ScalarType::Int64,
            false,
        ),
        (
            shaped(svd, with(system.batch.clone(), &[m.min(n)])),
            real,
            false,
        ),
    ])
    .make(cx)?;
    let all: Vec<TensorMeta> = std::iter::once(solution.clone())
        .chain(outs.iter().cloned())
        .collect();
    let op = LinalgOp::Lstsq((rcond, driver));
    cx.k.linalg(op, &[a.clone(), b.clone()], &all)
        .map_err(failed("linalg"))?;
    let [residuals_out, rank, singular] = <[TensorMeta; 3]>::try_from(outs).expect("three outputs");
    let residuals_out = if residuals && svd && !full_rank(cx, a, &system, (rcond, driver))? {
        cx.free(&residuals_out);
        cx.empty_contiguous(&[0], real)?
    } else {
        residuals_out
    };
    Ok([solution, residuals_out, rank, singular]
        .into_iter()
        .zip(4..)
        .map(|(t, at)| Output::Updated((at, t)))
        .collect())
}

/// Whether every matrix of `a` has rank `n` as `linalg_lstsq` finds it, which decides if an
/// SVD driver gives residuals: a question only the values answer.
fn full_rank(
    cx: &mut Ctx,
    a: &TensorMeta,
    system: &LeastSquares,
    params: (Option<f64>, LstsqDriver),
) -> Result<bool> {
    let matrices: i64 = system.batch.iter().product();
    let ranks = count(cx, SizeQuery::LstsqRank(params), a)?;
    Ok(ranks == matrices * system.n)
}

/// The driver named (any case), or the CPU's default, `gelsy`.
fn lstsq_driver(name: Option<&str>) -> Result<LstsqDriver> {
    Ok(match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("gelsy") => LstsqDriver::Gelsy,
        Some("gels") => LstsqDriver::Gels,
        Some("gelsd") => LstsqDriver::Gelsd,
        Some("gelss") => LstsqDriver::Gelss,
        Some(_) => {
            return Err(Error::invalid(
                "torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, \
                 gelss)",
            ))
        }
    })
}

/// The shapes of one `linalg_lstsq`: `A` is `batch x m x n`, `B` `batch x m x k` (or a batch
/// of vectors, `k = 1`).
struct LeastSquares {
    batch: Vec<i64>,
    m: i64,
    n: i64,
    k: i64,
    vector: bool,
}

impl LeastSquares {
    fn new(a: &TensorMeta, b: &TensorMeta) -> Result<Self> {
        let name = "torch.linalg.lstsq";
        ensure!(
            a.dim() >= 2,
            "{name}: input must have at least 2 dimensions."
        );
        ensure!(
            b.dim() >= 1,
            "{name}: other must have at least 1 dimension."
        );
        ensure!(
            a.dtype == b.dtype,
            "{name}: Expected input and other to have the same dtype, but got input's dtype {} \
             and other's dtype {}",
            a.dtype.name(),
            b.dtype.name()
        );
        ensure!(
            b.dim() <= a.dim() && a.dim() - b.dim() <= 1,
            "{name}: input.dim() must be greater or equal to other.dim() and (input.dim() - \
             other.dim()) <= 1"
        );
        ensure!(
            has_lapack_kernel(a.dtype),
            "This function doesn't handle types other than float and double"
        );
        let vector = a.dim() == b.dim() + 1;
        let b_matrix = if vector {
            with(b.sizes.clone(), &[1])
        } else {
            b.sizes.clone()
        };
        let b_batch = &b_matrix[..b_matrix.len() - 2];
        let batch = broadcast(&a.sizes[..a.dim() - 2], b_batch)?;
        let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
        ensure!(
            m == b_matrix[b_matrix.len() - 2],
            "{name}: input.size(-2) should match other.size({})",
            if vector { -1 } else { -2 }
        );
        Ok(Self {
            batch,
            m,
            n,
            k: b_matrix[b_matrix.len() - 1],
            vector,
        })
    }
}

/// `linalg_qr(A, mode='reduced')`: Q and R.
pub fn qr(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let a = args.tensor(0)?;
    let mode = args.opt_str(1)?.unwrap_or("reduced");
    check_input_then_kernel("linalg.qr", a, false, "geqrf_cpu", true)?;
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    let k = m.min(n);
    let (q, r) = match mode {
        "reduced" => (with(batch(a), &[m, k]), with(batch(a), &[k, n])),
        "complete" => (with(batch(a), &[m, m]), with(batch(a), &[m, n])),
        "r" => (vec![0], with(batch(a), &[k, n])),
        other => {
            return Err(Error::invalid(format!(
                "qr received unrecognized mode '{other}' but expected one of 'reduced' \
                 (default), 'r', or 'complete'"
            )))
        }
    };
    let q_matrix = mode != "r";
    let outs = Outs(vec![(q, a.dtype, q_matrix), (r, a.dtype, true)]);
    lower(
        cx,
        LinalgOp::Qr(mode.to_string()),
        std::slice::from_ref(a),
        outs,
    )
}

/// `_linalg_svd(A, full_matrices=False, compute_uv=True, *, driver=None)`: U, S and Vh (U and
/// Vh empty without `compute_uv`).
pub fn svd(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let a = args.tensor(0)?;
    let full = args.bool_or(1, false)?;
    let compute_uv = args.bool_or(2, true)?;
    ensure!(
        args.opt_str(3)?.is_none(),
        "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with \
         cuSOLVER backend."
    );
    check_input_then_kernel("linalg.svd", a, false, "linalg_svd_cpu", true)?;
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    let k = m.min(n);
    let (u, vh) = match (compute_uv, full) {
        (false, _) => (vec![0], vec![0]),
        (true, true) => (with(batch(a), &[m, m]), with(batch(a), &[n, n])),
        (true, false) => (with(batch(a), &[m, k]), with(batch(a), &[k, n])),
    };
    let outs = Outs(vec![
        (u, a.dtype, compute_uv),
        (with(batch(a), &[k]), a.dtype.real_part(), false),
        (vh, a.dtype, compute_uv),
    ]);
    lower(
        cx,
        LinalgOp::Svd((full, compute_uv)),
        std::slice::from_ref(a),
        outs,
    )
}

/// `_linalg_eigh(A, UPLO='L', compute_v=True)`: the eigenvalues (ascending) and the
/// eigenvectors (empty without `compute_v`).
pub fn eigh(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let a = args.tensor(0)?;
    let uplo = args.opt_str(1)?.unwrap_or("L");
    let compute_v = args.bool_or(2, true)?;
    ensure!(
        uplo == "L" || uplo == "U",
        "Expected UPLO argument to be 'L' or 'U', but got {uplo}"
    );
    check_input_then_kernel("linalg.eigh", a, true, "linalg_eigh_cpu", false)?;
    let n = a.sizes[a.dim() - 1];
    let vectors = if compute_v {
        (a.sizes.clone(), a.dtype, true)
    } else {
        (vec![0], a.dtype, false)
    };
    let outs = Outs(vec![
        (with(batch(a), &[n]), a.dtype.real_part(), false),
        vectors,
    ]);
    let op = LinalgOp::Eigh((uplo == "U", compute_v));
    lower(cx, op, std::slice::from_ref(a), outs)
}

/// `linalg_eig(A)` (`vectors`) and `_linalg_eigvals(A)`: the complex eigenvalues, and the
/// eigenvectors column-major as LAPACK leaves them.
pub fn eig(args: &Args, cx: &mut Ctx, vectors: bool) -> Outputs {
    args.at_most(1)?;
    let a = args.tensor(0)?;
    check_input_then_kernel("linalg.eig", a, true, "linalg_eig_out_cpu", true)?;
    let complex = a
        .dtype
        .complex_of()
        .expect("check_input admits only floating and complex dtypes");
    let n = a.sizes[a.dim() - 1];
    let mut outs = vec![(with(batch(a), &[n]), complex, false)];
    if vectors {
        outs.push((a.sizes.clone(), complex, true));
    }
    lower(
        cx,
        LinalgOp::Eig(vectors),
        std::slice::from_ref(a),
        Outs(outs),
    )
}

/// `geqrf(A)`: the reflectors and R in one column-major matrix, and the reflectors' scales.
pub fn geqrf(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let a = args.tensor(0)?;
    ensure!(
        a.dim() >= 2,
        "torch.geqrf: input must have at least 2 dimensions."
    );
    check_input_then_kernel("torch.geqrf", a, false, "geqrf_cpu", false)?;
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    let outs = Outs(vec![
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[m.min(n)]), a.dtype, false),
    ]);
    lower(cx, LinalgOp::Geqrf, std::slice::from_ref(a), outs)
}

/// The shape checks `linalg_householder_product` and `ormqr` share on the reflectors `a` and
/// their scales `tau`; each checks `tau`'s dtype after them, in its own words.
fn check_reflectors(name: &str, a: &TensorMeta, tau: &TensorMeta) -> Result<()> {
    ensure!(
        a.dim() >= 2,
        "{name}: input must have at least 2 dimensions."
    );
    ensure!(
        a.dim() == tau.dim() + 1,
        "{name}: Expected tau to have one dimension less than input, but got tau.ndim equal to \
         {} and input.ndim is equal to {}",
        tau.dim(),
        a.dim()
    );
    ensure!(
        tau.sizes[..tau.dim() - 1] == a.sizes[..a.dim() - 2],
        "{name}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got {}",
        fmt_shape(&tau.sizes[..tau.dim() - 1])
    );
    Ok(())
}

/// `ormqr`'s dtype check of `tau` or `other` (named `what`) against the input.
fn check_same_dtype_as_input(name: &str, a: &TensorMeta, t: &TensorMeta, what: &str) -> Result<()> {
    ensure!(
        t.dtype == a.dtype,
        "{name}: Expected input and {what} to have the same dtype, but input has dtype{} and \
         {what} has dtype {}",
        a.dtype.name(),
        t.dtype.name()
    );
    Ok(())
}

/// `linalg_householder_product(A, tau)`: the first `n` columns of the product of the
/// reflectors, column-major like `A`.
pub fn householder_product(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (a, tau) = (args.tensor(0)?, args.tensor(1)?);
    let name = "torch.linalg.householder_product";
    check_reflectors(name, a, tau)?;
    ensure!(
        tau.dtype == a.dtype,
        "{name}: tau dtype {} does not match input dtype {}",
        tau.dtype.name(),
        a.dtype.name()
    );
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    ensure!(
        m >= n,
        "{name}: input.shape[-2] must be greater than or equal to input.shape[-1]"
    );
    ensure!(
        n >= tau.sizes[tau.dim() - 1],
        "{name}: input.shape[-1] must be greater than or equal to tau.shape[-1]"
    );
    // The kernel refuses a dtype only after every argument check.
    check_kernel_dtype("orgqr_cpu", a)?;
    let outs = Outs(vec![(a.sizes.clone(), a.dtype, true)]);
    lower(
        cx,
        LinalgOp::HouseholderProduct,
        &[a.clone(), tau.clone()],
        outs,
    )
}

/// `ormqr(A, tau, C, left=True, transpose=False)`: `C` times the reflectors' product, from
/// the left or the right, transposed or not; column-major like `C`.
pub fn ormqr(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let (a, tau, c) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let (left, transpose) = (args.bool_or(3, true)?, args.bool_or(4, false)?);
    let name = "torch.ormqr";
    ensure!(
        a.dim() >= 2,
        "{name}: input must have at least 2 dimensions."
    );
    ensure!(
        c.dim() >= 2,
        "{name}: other must have at least 2 dimensions."
    );
    check_reflectors(name, a, tau)?;
    check_same_dtype_as_input(name, a, tau, "tau")?;
    let side = if left { -2 } else { -1 };
    let c_side = c.sizes[(c.dim() as i64 + side) as usize];
    ensure!(
        c_side == a.sizes[a.dim() - 2],
        "{name}: other.shape[{side}] must be equal to input.shape[-2]"
    );
    ensure!(
        tau.sizes[tau.dim() - 1] == c_side.min(a.sizes[a.dim() - 1]),
        "{name}: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1])"
    );
    ensure!(
        c.dim() == a.dim(),
        "{name}: Expected other to have the same number of dimensions as input, but got \
         other.ndim equal to {} and input.ndim is equal to {}",
        c.dim(),
        a.dim()
    );
    ensure!(
        c.sizes[..c.dim() - 2] == a.sizes[..a.dim() - 2],
        "{name}: Expected batch dimensions of other to be equal to input.shape[:-2], but got {}",
        fmt_shape(&c.sizes[..c.dim() - 2])
    );
    check_same_dtype_as_input(name, a, c, "other")?;
    check_kernel_dtype("ormqr_cpu", a)?;
    let outs = Outs(vec![(c.sizes.clone(), c.dtype, true)]);
    let inputs = [a.clone(), tau.clone(), c.clone()];
    lower(cx, LinalgOp::Ormqr((left, transpose)), &inputs, outs)
}

/// `linalg_ldl_factor_ex(A, *, hermitian=False, check_errors=False)`: the compact LD
/// (column-major), the int32 pivots and the info.
pub fn ldl_factor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let a = args.tensor(0)?;
    let hermitian = args.bool_or(1, false)?;
    check_input_then_kernel(
        "torch.linalg.ldl_factor_ex",
        a,
        true,
        "ldl_factor_kernel_cpu",
        true,
    )?;
    let ldl = Factorization::Ldl(hermitian);
    check_factorization(args, 2, cx, a, "torch.linalg.ldl_factor_ex", ldl)?;
    let n = a.sizes[a.dim() - 1];
    let outs = Outs(vec![
        (a.sizes.clone(), a.dtype, true),
        (with(batch(a), &[n]), ScalarType::Int32, false),
        (batch(a), ScalarType::Int32, false),
    ]);
    lower(
        cx,
        LinalgOp::LdlFactor(hermitian),
        std::slice::from_ref(a),
        outs,
    )
}

/// `linalg_ldl_solve(LD, pivots, B, *, hermitian=False)`: the solution, batches broadcast,
/// column-major.
pub fn ldl_solve(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(4)?;
    let (ld, pivots, b) = (args.tensor(0)?, args.tensor(1)?, args.tensor(2)?);
    let hermitian = args.bool_or(3, false)?;
    let name = "torch.linalg.ldl_solve";
    check_input(name, ld, true)?;
    ensure!(
        pivots.dtype == ScalarType::Int32,
        "{name}: Expected LD.shape[:-1] and pivots.shape to be the same, and pivots to be \
         int32, but got pivots of type {}",
        pivots.dtype.name()
    );
    ensure!(
        pivots.sizes[..] == ld.sizes[..ld.dim() - 1],
        "{name}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with \
         shape {} instead",
        fmt_shape(&pivots.sizes)
    );
    let shared = check_system("linalg.ldl_solve", b, ld)?;
    let outs = Outs(vec![(with(shared, &b.sizes[b.dim() - 2..]), b.dtype, true)]);
    let inputs = [ld.clone(), pivots.clone(), b.clone()];
    lower(cx, LinalgOp::LdlSolve(hermitian), &inputs, outs)
}

/// `linalg_lu(A, *, pivot=True)`: the permutation `P` (empty without `pivot`), the unit
/// lower `L` and the upper `U`, contiguous.
pub fn lu(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let a = args.tensor(0)?;
    let pivot = args.bool_or(1, true)?;
    check_lu_rank("linalg.lu", a)?;
    check_input_then_kernel("linalg.lu", a, false, "lu_cpu", false)?;
    let (m, n) = (a.sizes[a.dim() - 2], a.sizes[a.dim() - 1]);
    let k = m.min(n);
    let p = if pivot {
        with(batch(a), &[m, m])
    } else {
        vec![0]
    };
    let outs = Outs(vec![
        (p, a.dtype, false),
        (with(batch(a), &[m, k]), a.dtype, false),
        (with(batch(a), &[k, n]), a.dtype, false),
    ]);
    lower(cx, LinalgOp::Lu(pivot), std::slice::from_ref(a), outs)
}

/// `linalg_matrix_exp(self)`: the exponential of each square matrix, contiguous; matrices
/// of size 0 or 1 keep `self`'s layout, as PyTorch computes them as `clone` and `exp`.
pub fn matrix_exp(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    ensure!(
        x.dim() >= 2,
        "linalg.matrix_exp: The input tensor A must have at least 2 dimensions."
    );
    let (rows, cols) = (x.sizes[x.dim() - 2], x.sizes[x.dim() - 1]);
    ensure!(
        rows == cols,
        "linalg.matrix_exp: A must be batches of square matrices, but they are {rows} by {cols} \
         matrices"
    );
    ensure!(
        x.dtype.is_floating() || x.dtype.is_complex(),
        "linalg.matrix_exp: Expected a floating point or complex tensor as input. Got {}",
        x.dtype.name()
    );
    let out = if rows <= 1 {
        cx.empty_like(x)?
    } else {
        cx.empty_contiguous(&x.sizes, x.dtype)?
    };
    launch(cx, LibraryOp::MatrixExp, std::slice::from_ref(x), vec![out])
}

/// `_linalg_check_errors(info, api_name, *, is_matrix)`: PyTorch's error for the first info
/// that is not 0. The host reads the infos, as the CPU and CUDA read theirs, so a singular
/// matrix raises at the call that factorized it.
pub fn check_errors(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let info = args.tensor(0)?;
    let api = args.opt_str(1)?.unwrap_or("linalg");
    let is_matrix = args.bool_or(2, true)?;
    let infos = numel(&info.sizes)?;
    raise_first_failure(cx, info, None, infos, api, is_matrix)?;
    Ok(vec![])
}

/// `check_errors=True` of a `*_ex` factorization of `a` (named `api`): PyTorch's error for
/// the first matrix it fails on, from the infos the host finds before the op is sent.
fn check_factorization(
    args: &Args,
    at: usize,
    cx: &mut Ctx,
    a: &TensorMeta,
    api: &str,
    factorization: Factorization,
) -> Result<()> {
    if !args.bool_or(at, false)? {
        return Ok(());
    }
    let matrices = numel(&a.sizes[..a.dim() - 2])?;
    raise_first_failure(cx, a, Some(factorization), matrices, api, a.dim() == 2)
}

/// The error for the first of `infos` infos (of `x`, or of its `factorization`) that is not
/// 0, if one is.
fn raise_first_failure(
    cx: &mut Ctx,
    x: &TensorMeta,
    factorization: Option<Factorization>,
    infos: i64,
    api: &str,
    is_matrix: bool,
) -> Result<()> {
    let first = count(cx, SizeQuery::FirstNonzero(factorization), x)?;
    if first >= infos {
        return Ok(());
    }
    let code =
        cx.k.data_size(SizeQuery::Element((first, factorization)), x)
            .map_err(failed("data_size"))?;
    Err(linalg_failure(api, (!is_matrix).then_some(first), code))
}

/// The error `_linalg_check_errors` gives for info `code` of `api`'s matrix number `batch`.
fn linalg_failure(api: &str, batch: Option<i64>, code: i64) -> Error {
    let at = batch.map_or(String::new(), |b| format!(": (Batch element {b})"));
    let linalg = |what: String| Error::linalg(format!("{api}{at}: {what}"));
    let converge = "The algorithm failed to converge because the input matrix";
    if code < 0 {
        if api.contains("svd") && code == -4 {
            return linalg(format!("{converge} contained non-finite values."));
        }
        return Error::invalid(format!(
            "{api}{at}: Argument {} has illegal value. Most certainly there is a bug in the \
             implementation calling the backend library.",
            -code
        ));
    }
    if api.contains("inv") {
        linalg(format!(
            "The diagonal element {code} is zero, the inversion could not be completed because \
             the input matrix is singular."
        ))
    } else if api.contains("solve") {
        linalg("The solver failed because the input matrix is singular.".into())
    } else if api.contains("cholesky") {
        linalg(format!(
            "The factorization could not be completed because the input is not \
             positive-definite (the leading minor of order {code} is not positive-definite)."
        ))
    } else if api.contains("svd") {
        linalg(format!(
            "{converge} is ill-conditioned or has too many repeated singular values (error \
             code: {code})."
        ))
    } else if api.contains("eig") || api.contains("syevd") {
        linalg(format!(
            "{converge} is ill-conditioned or has too many repeated eigenvalues (error code: \
             {code})."
        ))
    } else if api.contains("lstsq") {
        linalg(format!(
            "The least squares solution could not be computed because the input matrix does \
             not have full rank (error code: {code})."
        ))
    } else if api.contains("lu_factor") {
        Error::invalid(format!(
            "{api}{at}: U[{code},{code}] is zero and using it on lu_solve would result in a \
             division by zero. If you still want to perform the factorization, consider calling \
             linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"
        ))
    } else {
        Error::invalid(format!("{api}: Unknown error code: {code}."))
    }
}

#[cfg(test)]
mod tests {
    use super::column_major;
    use crate::ops::testing::{arg, f32s, geometry, meta, run, run_sized, tensor};
    use crate::types::{Arg, ScalarType};

    /// `linalg_lstsq.out(a, b, None, driver)` with empty outputs, answering the rank query
    /// with `ranks`.
    fn lstsq(a: &[i64], b: &[i64], driver: &str, ranks: i64) -> Vec<crate::types::TensorMeta> {
        let empty = |dtype, id| Arg::Tensor(tensor(&[0], dtype, id));
        let args = vec![
            arg(&f32s(a, 1)),
            arg(&f32s(b, 2)),
            Arg::None,
            Arg::Str(driver.into()),
            empty(ScalarType::Float32, 3),
            empty(ScalarType::Float32, 4),
            empty(ScalarType::Int64, 5),
            empty(ScalarType::Float32, 6),
        ];
        let outputs = run_sized("linalg_lstsq", "out", args, ranks).0.unwrap();
        (0..4).map(|i| meta(&outputs, i)).collect()
    }

    #[test]
    fn lstsq_outputs_follow_the_driver() {
        let [x, res, rank, sv] =
            <[_; 4]>::try_from(lstsq(&[2, 5, 3], &[2, 5, 2], "gelsd", 6)).unwrap();
        assert_eq!(
            geometry(&x),
            (vec![2, 3, 2], vec![10, 1, 5], 0, ScalarType::Float32)
        );
        assert_eq!(res.sizes, vec![2, 2]);
        assert_eq!((rank.sizes, rank.dtype), (vec![2], ScalarType::Int64));
        assert_eq!(sv.sizes, vec![2, 3]);
        // One matrix short of full rank: no residuals.
        assert_eq!(lstsq(&[2, 5, 3], &[2, 5, 2], "gelsd", 5)[1].sizes, vec![0]);
        let gels = lstsq(&[5, 3], &[5], "gels", 0);
        assert_eq!(
            geometry(&gels[0]),
            (vec![3], vec![1], 0, ScalarType::Float32)
        );
        assert_eq!(gels[1].sizes, vec![1]);
        assert_eq!(
            (gels[2].sizes.clone(), gels[3].sizes.clone()),
            (vec![0], vec![0])
        );
        let wide = lstsq(&[3, 5], &[3, 2], "gelsy", 0);
        assert_eq!(geometry(&wide[0]).1, vec![1, 5]);
        assert_eq!(
            (wide[1].sizes.clone(), wide[2].sizes.clone()),
            (vec![0], vec![])
        );
    }

    #[test]
    fn matrices_come_out_column_major() {
        assert_eq!(column_major(&[2, 3, 4]).unwrap(), vec![12, 1, 3]);
        assert_eq!(column_major(&[3, 3]).unwrap(), vec![1, 3]);
        let a = f32s(&[2, 3, 3], 1);
        let (res, fake) = run("linalg_inv_ex", "", vec![arg(&a)]);
        let outputs = res.unwrap();
        assert_eq!(
            geometry(&meta(&outputs, 0)),
            (vec![2, 3, 3], vec![9, 1, 3], 0, ScalarType::Float32)
        );
        assert_eq!(meta(&outputs, 1).dtype, ScalarType::Int32);
        assert_eq!(fake.kernels(), vec!["linalg"]);
    }

    #[test]
    fn checks_name_the_op() {
        let a = f32s(&[3, 4], 1);
        let err = run("linalg_inv_ex", "", vec![arg(&a)]).0.unwrap_err();
        assert!(err
            .message
            .contains("linalg.inv: A must be batches of square matrices"));
        let ints = tensor(&[3, 3], ScalarType::Int64, 2);
        let err = run("_linalg_det", "", vec![arg(&ints)]).0.unwrap_err();
        assert!(err.message.contains("Expected a floating point"));
        let err = run("linalg_qr", "", vec![arg(&a), Arg::Str("full".into())])
            .0
            .unwrap_err();
        assert!(err.message.contains("unrecognized mode 'full'"));
    }
}
