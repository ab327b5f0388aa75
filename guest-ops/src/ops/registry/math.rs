//! The table's entries for reductions, min/max, linear algebra and statistics.

use super::*;

pub(super) const REDUCE: &[Entry] = &[
    e("equal", &[""], reduce::equal),
    e("prod", &[""], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Prod, true)
    }),
    e("prod", &["dim_int"], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Prod, false)
    }),
    e("prod", &["int_out"], |a, c| {
        reduce::sum_like(a, c, Out(4), ReduceOp::Prod, false)
    }),
    e("all", &[""], |a, c| {
        reduce::all_any(a, c, F, ReduceOp::All, true)
    }),
    e("all", &["all_out"], |a, c| {
        reduce::all_any(a, c, Out(1), ReduceOp::All, true)
    }),
    e("all", &["dim", "dims"], |a, c| {
        reduce::all_any(a, c, F, ReduceOp::All, false)
    }),
    e("all", &["out", "dims_out"], |a, c| {
        reduce::all_any(a, c, Out(3), ReduceOp::All, false)
    }),
    e("any", &[""], |a, c| {
        reduce::all_any(a, c, F, ReduceOp::Any, true)
    }),
    e("any", &["all_out"], |a, c| {
        reduce::all_any(a, c, Out(1), ReduceOp::Any, true)
    }),
    e("any", &["dim", "dims"], |a, c| {
        reduce::all_any(a, c, F, ReduceOp::Any, false)
    }),
    e("any", &["out", "dims_out"], |a, c| {
        reduce::all_any(a, c, Out(3), ReduceOp::Any, false)
    }),
    e("trace", &[""], reduce::trace),
    e("count_nonzero", &["dim_IntList"], |a, c| {
        reduce::count_nonzero(a, c, true)
    }),
    e("count_nonzero", &[""], |a, c| {
        reduce::count_nonzero(a, c, false)
    }),
    e("sum", &[""], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Sum, true)
    }),
    e("sum", &["dim_IntList"], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Sum, false)
    }),
    e("sum", &["IntList_out"], |a, c| {
        reduce::sum_like(a, c, Out(4), ReduceOp::Sum, false)
    }),
    e("nansum", &[""], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Nansum, false)
    }),
    e("nansum", &["out"], |a, c| {
        reduce::sum_like(a, c, Out(4), ReduceOp::Nansum, false)
    }),
    e("mean", &[""], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Mean, true)
    }),
    e("mean", &["dim"], |a, c| {
        reduce::sum_like(a, c, F, ReduceOp::Mean, false)
    }),
    e("mean", &["out"], |a, c| {
        reduce::sum_like(a, c, Out(4), ReduceOp::Mean, false)
    }),
    e("mean", &["dtype_out"], |a, c| {
        reduce::sum_like(a, c, Out(2), ReduceOp::Mean, true)
    }),
];

pub(super) const MINMAX: &[Entry] = &[
    e("aminmax", &[""], |a, c| minmax::aminmax(a, c, false)),
    e("aminmax", &["out"], |a, c| minmax::aminmax(a, c, true)),
    e("amax", &[""], |a, c| {
        minmax::amax_amin(a, c, F, ReduceOp::Amax)
    }),
    e("amax", &["out"], |a, c| {
        minmax::amax_amin(a, c, Out(3), ReduceOp::Amax)
    }),
    e("amin", &[""], |a, c| {
        minmax::amax_amin(a, c, F, ReduceOp::Amin)
    }),
    e("amin", &["out"], |a, c| {
        minmax::amax_amin(a, c, Out(3), ReduceOp::Amin)
    }),
    e("max", &[""], |a, c| {
        minmax::max_min_all(a, c, F, ReduceOp::Amax)
    }),
    e("max", &["unary_out"], |a, c| {
        minmax::max_min_all(a, c, Out(1), ReduceOp::Amax)
    }),
    e("min", &[""], |a, c| {
        minmax::max_min_all(a, c, F, ReduceOp::Amin)
    }),
    e("min", &["unary_out"], |a, c| {
        minmax::max_min_all(a, c, Out(1), ReduceOp::Amin)
    }),
    e("max", &["dim"], |a, c| {
        minmax::max_min_dim(a, c, false, IndexReduceOp::Max)
    }),
    e("max", &["dim_max"], |a, c| {
        minmax::max_min_dim(a, c, true, IndexReduceOp::Max)
    }),
    e("min", &["dim"], |a, c| {
        minmax::max_min_dim(a, c, false, IndexReduceOp::Min)
    }),
    e("min", &["dim_min"], |a, c| {
        minmax::max_min_dim(a, c, true, IndexReduceOp::Min)
    }),
    e("argmax", &[""], |a, c| {
        minmax::argmax_argmin(a, c, F, IndexReduceOp::Argmax)
    }),
    e("argmax", &["out"], |a, c| {
        minmax::argmax_argmin(a, c, Out(3), IndexReduceOp::Argmax)
    }),
    e("argmin", &[""], |a, c| {
        minmax::argmax_argmin(a, c, F, IndexReduceOp::Argmin)
    }),
    e("argmin", &["out"], |a, c| {
        minmax::argmax_argmin(a, c, Out(3), IndexReduceOp::Argmin)
    }),
];

pub(super) const LINALG: &[Entry] = &[
    e("mm", &[""], |a, c| linalg::mm(a, c, F)),
    e("mm", &["out"], |a, c| linalg::mm(a, c, Out(2))),
    e("addmm", &[""], |a, c| linalg::addmm(a, c, F)),
    e("addmm", &["out"], |a, c| linalg::addmm(a, c, Out(5))),
    e("addmm_", &[""], |a, c| linalg::addmm(a, c, I)),
    e("bmm", &[""], |a, c| linalg::bmm(a, c, F)),
    e("bmm", &["out"], |a, c| linalg::bmm(a, c, Out(2))),
    e("addbmm", &[""], |a, c| linalg::addbmm(a, c, F)),
    e("addbmm", &["out"], |a, c| linalg::addbmm(a, c, Out(5))),
    e("addbmm_", &[""], |a, c| linalg::addbmm(a, c, I)),
    e("baddbmm", &[""], |a, c| linalg::baddbmm(a, c, F)),
    e("baddbmm", &["out"], |a, c| linalg::baddbmm(a, c, Out(5))),
    e("baddbmm_", &[""], |a, c| linalg::baddbmm(a, c, I)),
    e("addmv", &[""], |a, c| linalg::addmv(a, c, F, false)),
    e("addmv", &["out"], |a, c| linalg::addmv(a, c, Out(5), false)),
    e("addmv_", &[""], |a, c| linalg::addmv(a, c, I, false)),
    e("mv", &[""], |a, c| linalg::addmv(a, c, F, true)),
    e("mv", &["out"], |a, c| linalg::addmv(a, c, Out(2), true)),
    e("glu", &[""], |a, c| library::glu(a, c, F)),
    e("glu", &["out"], |a, c| library::glu(a, c, Out(2))),
    e("glu_backward", &[""], |a, c| library::glu_backward(a, c, F)),
    e("glu_jvp", &[""], library::glu_jvp),
    e("_dirichlet_grad", &[""], library::dirichlet_grad),
    e("glu_backward", &["grad_input"], |a, c| {
        library::glu_backward(a, c, Out(3))
    }),
    e("im2col", &[""], |a, c| library::im2col(a, c, F)),
    e("im2col", &["out"], |a, c| library::im2col(a, c, Out(5))),
    e("col2im", &[""], |a, c| library::col2im(a, c, F)),
    e("col2im", &["out"], |a, c| library::col2im(a, c, Out(6))),
    e("multi_margin_loss", &[""], |a, c| {
        margin_loss::multi_margin_loss(a, c)
    }),
    e("multi_margin_loss_backward", &[""], |a, c| {
        margin_loss::multi_margin_loss_backward(a, c)
    }),
    e("multilabel_margin_loss_forward", &[""], |a, c| {
        margin_loss::multilabel_margin_loss(a, c)
    }),
    e("multilabel_margin_loss_backward", &[""], |a, c| {
        margin_loss::multilabel_margin_loss_backward(a, c)
    }),
    e("renorm", &[""], |a, c| library::renorm(a, c, F)),
    e("renorm_", &[""], |a, c| library::renorm(a, c, I)),
    e("renorm", &["out"], |a, c| library::renorm(a, c, Out(4))),
    e("kaiser_window", &[""], |a, c| {
        library::kaiser_window(a, c, 1)
    }),
    e("kaiser_window", &["periodic"], |a, c| {
        library::kaiser_window(a, c, 2)
    }),
    e("kaiser_window", &["beta"], |a, c| {
        library::kaiser_window(a, c, 3)
    }),
    e("tril_indices", &[""], |a, c| {
        library::tri_indices(a, c, false)
    }),
    e("triu_indices", &[""], |a, c| {
        library::tri_indices(a, c, true)
    }),
    e("put_", &[""], library::put),
    e("_prelu_kernel", &[""], library::prelu),
    e("_prelu_kernel_backward", &[""], library::prelu_backward),
    e("take", &[""], |a, c| library::take(a, c, F)),
    e("take", &["out"], |a, c| library::take(a, c, Out(2))),
    e("searchsorted", &["Tensor"], |a, c| {
        library::searchsorted(a, c, F)
    }),
    e("searchsorted", &["Tensor_out"], |a, c| {
        library::searchsorted(a, c, Out(6))
    }),
    e("searchsorted", &["Scalar"], |a, c| {
        library::searchsorted_scalar(a, c, F)
    }),
    e("searchsorted", &["Scalar_out"], |a, c| {
        library::searchsorted_scalar(a, c, Out(6))
    }),
    // `2 % x`: the number is wrapped as for `remainder.Tensor`; `out=` is composite.
    e("remainder", &["Scalar_Tensor"], |a, c| {
        binary::binary(a, c, F, BinaryOp::Remainder)
    }),
    e(
        "isin",
        &["Tensor_Tensor", "Tensor_Scalar", "Scalar_Tensor"],
        |a, c| library::isin(a, c, F),
    ),
    e(
        "isin",
        &[
            "Tensor_Tensor_out",
            "Tensor_Scalar_out",
            "Scalar_Tensor_out",
        ],
        |a, c| library::isin(a, c, Out(4)),
    ),
    e("fractional_max_pool2d", &[""], |a, c| {
        fractional_pool::forward(a, c, 2)
    }),
    e("fractional_max_pool3d", &[""], |a, c| {
        fractional_pool::forward(a, c, 3)
    }),
    e("fractional_max_pool2d_backward", &[""], |a, c| {
        fractional_pool::backward(a, c, 2)
    }),
    e("fractional_max_pool3d_backward", &[""], |a, c| {
        fractional_pool::backward(a, c, 3)
    }),
    e("max_unpool2d", &[""], |a, c| {
        library::max_unpool(a, c, F, 2)
    }),
    e("max_unpool2d", &["out"], |a, c| {
        library::max_unpool(a, c, Out(3), 2)
    }),
    e("max_unpool3d", &[""], |a, c| {
        library::max_unpool(a, c, F, 3)
    }),
    e("max_unpool3d", &["out"], |a, c| {
        library::max_unpool(a, c, Out(5), 3)
    }),
    e("bucketize", &["Tensor"], |a, c| library::bucketize(a, c, F)),
    e("bucketize", &["Scalar"], library::bucketize_scalar),
    e("bucketize", &["Tensor_out"], |a, c| {
        library::bucketize(a, c, Out(4))
    }),
    e("linalg_inv_ex", &[""], factorize::inv),
    e("linalg_cholesky_ex", &[""], factorize::cholesky),
    e("cholesky", &[""], factorize::cholesky_factor),
    e("cholesky_inverse", &[""], factorize::cholesky_inverse),
    e("_cholesky_solve_helper", &[""], factorize::cholesky_solve),
    e("triangular_solve", &[""], factorize::triangular_solve),
    e("_linalg_det", &[""], factorize::det),
    e("_linalg_slogdet", &[""], factorize::slogdet),
    e("linalg_lu_factor_ex", &[""], factorize::lu_factor),
    e("linalg_lu_solve", &[""], factorize::lu_solve),
    e("lu_unpack", &[""], factorize::lu_unpack),
    e(
        "linalg_solve_triangular",
        &[""],
        factorize::solve_triangular,
    ),
    e("_linalg_solve_ex", &[""], factorize::solve),
    e("linalg_qr", &[""], factorize::qr),
    e("_linalg_svd", &[""], factorize::svd),
    e("_linalg_eigh", &[""], factorize::eigh),
    e("linalg_eig", &[""], |a, c| factorize::eig(a, c, true)),
    e("_linalg_eigvals", &[""], |a, c| factorize::eig(a, c, false)),
    e("linalg_lu", &[""], factorize::lu),
    e("linalg_lstsq", &["out"], factorize::lstsq),
    e("geqrf", &[""], factorize::geqrf),
    e(
        "linalg_householder_product",
        &[""],
        factorize::householder_product,
    ),
    e("ormqr", &[""], factorize::ormqr),
    e("linalg_ldl_factor_ex", &[""], factorize::ldl_factor),
    e("linalg_ldl_solve", &[""], factorize::ldl_solve),
    e("_linalg_check_errors", &[""], factorize::check_errors),
    e("linalg_inv_ex", &["inverse"], |a, c| {
        copied_out::exact(a, c, 2, factorize::inv)
    }),
    e("linalg_cholesky_ex", &["L"], |a, c| {
        copied_out::exact(a, c, 2, factorize::cholesky)
    }),
    e("_linalg_solve_ex", &["result"], |a, c| {
        copied_out::exact(a, c, 4, factorize::solve)
    }),
    e("_linalg_det", &["result"], |a, c| {
        copied_out::exact(a, c, 3, factorize::det)
    }),
    e("_linalg_slogdet", &["sign"], |a, c| {
        copied_out::exact(a, c, 4, factorize::slogdet)
    }),
    e("linalg_lu_factor_ex", &["out"], |a, c| {
        copied_out::exact(a, c, 3, factorize::lu_factor)
    }),
    e("linalg_lu", &["out"], |a, c| {
        copied_out::exact(a, c, 3, factorize::lu)
    }),
    e("linalg_lu_solve", &["out"], |a, c| {
        copied_out::exact(a, c, 1, factorize::lu_solve)
    }),
    e("lu_unpack", &["out"], |a, c| {
        copied_out::exact(a, c, 3, factorize::lu_unpack)
    }),
    e("linalg_ldl_factor_ex", &["out"], |a, c| {
        copied_out::exact(a, c, 3, factorize::ldl_factor)
    }),
    e("linalg_ldl_solve", &["out"], |a, c| {
        copied_out::exact(a, c, 1, factorize::ldl_solve)
    }),
    e("_linalg_eigh", &["eigenvalues"], |a, c| {
        copied_out::exact(a, c, 2, factorize::eigh)
    }),
    e("_linalg_svd", &["U"], |a, c| {
        copied_out::exact(a, c, 3, factorize::svd)
    }),
    e("linalg_qr", &["out"], |a, c| {
        copied_out::exact(a, c, 2, factorize::qr)
    }),
    e("linalg_solve_triangular", &["out"], |a, c| {
        copied_out::typed(a, c, factorize::solve_triangular)
    }),
    e("triangular_solve", &["X"], |a, c| {
        copied_out::exact(a, c, 2, factorize::triangular_solve)
    }),
    e("geqrf", &["a"], |a, c| {
        copied_out::exact(a, c, 2, factorize::geqrf)
    }),
    e("ormqr", &["out"], |a, c| {
        copied_out::exact(a, c, 1, factorize::ormqr)
    }),
    e("cholesky_inverse", &["out"], |a, c| {
        copied_out::castable(a, c, "cholesky_inverse", true, factorize::cholesky_inverse)
    }),
    e("cholesky", &["out"], |a, c| {
        copied_out::castable(a, c, "cholesky", false, factorize::cholesky_factor)
    }),
    e("linalg_householder_product", &["out"], |a, c| {
        copied_out::castable(
            a,
            c,
            "torch.linalg.householder_product",
            true,
            factorize::householder_product,
        )
    }),
    e(
        "_amp_foreach_non_finite_check_and_unscale_",
        &[""],
        amp::unscale,
    ),
    e("_amp_update_scale_", &[""], amp::update_scale),
    e("_fused_adam_", &[""], |a, c| {
        optim::adam(a, c, false, false)
    }),
    e("_fused_adam_", &["tensor_lr"], |a, c| {
        optim::adam(a, c, false, true)
    }),
    e("_fused_adamw_", &[""], |a, c| {
        optim::adam(a, c, true, false)
    }),
    e("_fused_adamw_", &["tensor_lr"], |a, c| {
        optim::adam(a, c, true, true)
    }),
    e("_fused_sgd_", &[""], |a, c| optim::sgd(a, c, false)),
    e("_fused_sgd_", &["tensor_lr"], |a, c| optim::sgd(a, c, true)),
    e("_fused_adagrad_", &[""], |a, c| optim::adagrad(a, c, false)),
    e("_fused_adagrad_", &["tensor_lr"], |a, c| {
        optim::adagrad(a, c, true)
    }),
    e("_ctc_loss", &[""], ctc::forward),
    e("frexp", &["Tensor"], |a, c| unary::frexp(a, c, false)),
    e("frexp", &["Tensor_out"], |a, c| unary::frexp(a, c, true)),
    e("_weight_norm_interface", &[""], norm::weight_norm),
    e(
        "fake_quantize_per_tensor_affine_cachemask",
        &[""],
        fake_quant::per_tensor,
    ),
    e(
        "_fake_quantize_per_tensor_affine_cachemask_tensor_qparams",
        &[""],
        fake_quant::per_tensor_qparams,
    ),
    e(
        "fake_quantize_per_channel_affine_cachemask",
        &[""],
        fake_quant::per_channel,
    ),
    e(
        "_fused_moving_avg_obs_fq_helper",
        &[""],
        fake_quant::fused_observer,
    ),
    e(
        "_fake_quantize_learnable_per_tensor_affine",
        &[""],
        fake_quant::learnable_per_tensor,
    ),
    e(
        "_fake_quantize_learnable_per_tensor_affine_backward",
        &[""],
        fake_quant::learnable_per_tensor_backward,
    ),
    e(
        "_fake_quantize_learnable_per_channel_affine",
        &[""],
        fake_quant::learnable_per_channel,
    ),
    e(
        "_fake_quantize_learnable_per_channel_affine_backward",
        &[""],
        fake_quant::learnable_per_channel_backward,
    ),
    e(
        "_weight_norm_interface_backward",
        &[""],
        norm::weight_norm_backward,
    ),
    e("nonzero_static", &[""], data::nonzero_static),
    e("_pdist_forward", &[""], spatial::pdist),
    e("_pdist_backward", &[""], spatial::pdist_backward),
    e("linalg_matrix_exp", &[""], factorize::matrix_exp),
    e("_ctc_loss_backward", &[""], ctc::backward),
    e("dot", &[""], |a, c| linalg::dot(a, c, F, false)),
    e("dot", &["out"], |a, c| linalg::dot(a, c, Out(2), false)),
    // `vdot` conjugates its first argument, which is `dot` for the real dtypes remote has.
    e("vdot", &[""], |a, c| linalg::dot(a, c, F, true)),
    e("vdot", &["out"], |a, c| linalg::dot(a, c, Out(2), true)),
];

pub(super) const STATS: &[Entry] = &[
    e("var", &["correction"], |a, c| {
        stats::moments(a, c, F, MomentOp::Var, false)
    }),
    e("var", &["correction_out"], |a, c| {
        stats::moments(a, c, Out(4), MomentOp::Var, false)
    }),
    e("std", &["correction"], |a, c| {
        stats::moments(a, c, F, MomentOp::Std, false)
    }),
    e("std", &["correction_out"], |a, c| {
        stats::moments(a, c, Out(4), MomentOp::Std, false)
    }),
    e("var_mean", &["correction"], |a, c| {
        stats::moments(a, c, F, MomentOp::Var, true)
    }),
    e("std_mean", &["correction"], |a, c| {
        stats::moments(a, c, F, MomentOp::Std, true)
    }),
    e("norm", &["Scalar"], |a, c| {
        stats::norm(a, c, norm(false, false, false))
    }),
    e("norm", &["ScalarOpt_dtype"], |a, c| {
        stats::norm(a, c, norm(false, true, false))
    }),
    e("norm", &["ScalarOpt_dim"], |a, c| {
        stats::norm(a, c, norm(true, false, false))
    }),
    e("norm", &["ScalarOpt_dim_dtype"], |a, c| {
        stats::norm(a, c, norm(true, true, false))
    }),
    e("norm", &["out"], |a, c| {
        stats::norm(a, c, norm(true, false, true))
    }),
    e("norm", &["dtype_out"], |a, c| {
        stats::norm(a, c, norm(true, true, true))
    }),
    e("linalg_vector_norm", &[""], |a, c| {
        stats::vector_norm(a, c, F)
    }),
    e("linalg_vector_norm", &["out"], |a, c| {
        stats::vector_norm(a, c, Out(5))
    }),
    e("logsumexp", &[""], |a, c| stats::logsumexp(a, c, F)),
    e("logsumexp", &["out"], |a, c| stats::logsumexp(a, c, Out(3))),
];

const fn norm(dims: bool, dtype: bool, out: bool) -> stats::NormForm {
    stats::NormForm { dims, dtype, out }
}
