//! Complex tensors: which ops take them, the views between complex and real
//! (`view_as_real`, `view_as_complex`), the ops that build them (`polar`, `complex`,
//! `conj_physical`) and the discrete Fourier transforms (`_fft_r2c`, `_fft_c2r`, `_fft_c2c`).

use crate::error::{ensure, Error, Result};
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::Pointwise;
use crate::ops::library::launch;
use crate::ops::{Form, Outputs};
use crate::rules::dtype::ResultType;
use crate::rules::shape::wrap_dim_of_dims;
use crate::types::{
    Arg, FftKind, FftParams, LibraryOp, Output, Scalar, ScalarType, TensorMeta, UnaryOp,
};

/// The ops whose handlers follow PyTorch for complex tensors (besides [`NUMBERS`]): `name`
/// for all overloads of an op and of its in-place form `name_`, `name.overload` for one.
/// Every other op refuses complex arguments, so that the CPU fallback can take them.
const TENSORS: &[&str] = &[
    // Factories, copies and storage changes move bytes whatever they mean.
    "empty",
    "empty_strided",
    "_efficientzerotensor",
    "eye",
    "zero_",
    "normal_",
    "uniform_",
    "copy_",
    "_copy_from",
    "_copy_from_and_resize",
    "_to_copy",
    "clone",
    "resize_",
    "set_",
    // Views only restride.
    "view",
    "_unsafe_view",
    "as_strided",
    "_reshape_alias",
    "alias",
    "detach",
    "t",
    "transpose",
    "select",
    "slice",
    "expand",
    "squeeze",
    "unsqueeze",
    "permute",
    "unfold",
    // Indexing and rearranging move elements whatever they hold.
    "cat",
    "index",
    "index_put",
    "_index_put_impl_",
    "index_select",
    "index_copy",
    "gather",
    "scatter_add",
    "masked_select",
    "take",
    "nonzero",
    "nonzero_static",
    "roll",
    "tril",
    "triu",
    "count_nonzero",
    "put",
    "masked_scatter",
    "im2col",
    "col2im",
    "unfold_backward",
    "flip",
    "channel_shuffle",
    "reflection_pad1d",
    "reflection_pad2d",
    "reflection_pad3d",
    "replication_pad1d",
    "replication_pad2d",
    "replication_pad3d",
    "reflection_pad1d_backward",
    "reflection_pad2d_backward",
    "reflection_pad3d_backward",
    "replication_pad1d_backward",
    "replication_pad2d_backward",
    "replication_pad3d_backward",
    // Functions whose rules hold for complex numbers as they are.
    "neg",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "tanh_backward",
    "asinh",
    "acosh",
    "atanh",
    "sigmoid",
    "sigmoid_backward",
    "sinc",
    "abs",
    "angle",
    "sgn",
    "silu",
    "equal",
    "isnan",
    "isinf",
    "nan_to_num",
    "logical_not",
    "logical_and",
    "logical_or",
    "logical_xor",
    "all",
    "any",
    "sum",
    "mean",
    "prod",
    "cumsum",
    "cumprod",
    "_logcumsumexp",
    "logsumexp",
    "logaddexp",
    "trace",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "linalg_vector_norm",
    "norm",
    "renorm",
    "mm",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "linalg_cross",
    // This module's own.
    "view_as_real",
    "view_as_complex",
    "polar",
    "complex",
    "conj_physical",
    "_conj_physical",
    "_fft_r2c",
    "_fft_c2r",
    "_fft_c2c",
    // Linear algebra: LAPACK's complex routines (singular values, eigenvalues of Hermitian
    // matrices, log-magnitudes and residuals come out real).
    "linalg_inv_ex",
    "linalg_cholesky_ex",
    "_linalg_det",
    "_linalg_slogdet",
    "linalg_lu_factor_ex",
    "lu_unpack",
    "linalg_lu_solve",
    "_linalg_solve_ex",
    "linalg_solve_triangular",
    "linalg_qr",
    "_linalg_svd",
    "_linalg_eigh",
    "linalg_eig",
    "_linalg_eigvals",
    "linalg_lu",
    "cholesky",
    "_cholesky_solve_helper",
    "cholesky_inverse",
    "triangular_solve",
    "linalg_lstsq",
    "geqrf",
    "linalg_householder_product",
    "ormqr",
    "linalg_ldl_factor_ex",
    "linalg_ldl_solve",
    "linalg_matrix_exp",
    // torchvision's refuse other dtypes with their kernels' own messages...
    "torchvision::nms",
    "torchvision::roi_align",
    "torchvision::_roi_align_backward",
    // And these their dtypes' own messages, as their CPU kernels dispatch them.
    "segment_reduce",
    "_segment_reduce_backward",
    "_convert_indices_from_coo_to_csr",
    "_convert_indices_from_csr_to_coo",
    "torchaudio::_lfilter_core_loop",
    "torchvision::roi_pool",
    "torchvision::_roi_pool_backward",
    "torchvision::ps_roi_align",
    "torchvision::_ps_roi_align_backward",
    "torchvision::ps_roi_pool",
    "torchvision::_ps_roi_pool_backward",
];

/// The ops that take complex tensors and complex Python numbers too: their kernels take
/// numbers as tensors.
const NUMBERS: &[&str] = &[
    "fill_",
    "add",
    "sub",
    "rsub",
    "mul",
    "div.Tensor",
    "div.Scalar",
    "div.out",
    "div_.Tensor",
    "div_.Scalar",
    "pow",
    "eq",
    "ne",
    "where",
    "masked_fill",
    "addmm",
    "addmv",
    "baddbmm",
    "addbmm",
    "lerp",
    "addcmul",
    "addcdiv",
    "index_fill",
    "index_add",
    "scatter",
    // `x[mask] = value` with a one-element CPU value arrives as a number (masked_fill's path).
    "index_put",
    "_index_put_impl",
];

/// Ops of two operands that remote runs for real numbers only, whose CPU iterator casts a real
/// result into any `out=` dtype, complex included, and refuses a complex result for a real
/// `self` of an in-place form before any kernel looks at the dtype.
const CASTING_BINARY: &[&str] = &[
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "atan2",
    "fmod",
    "remainder",
    "floor_divide",
    "copysign",
    "hypot",
    "xlogy",
    "nextafter",
    "igamma",
    "igammac",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "gcd",
    "lcm",
    "logaddexp",
    "logaddexp2",
    "clamp",
    "clamp_min",
    "clamp_max",
    // Comparisons cast into `out=` too, but compare a complex `other` of an in-place form.
    "lt",
    "le",
    "gt",
    "ge",
];

/// How the CPU refuses complex tensors for an op that has no complex kernel, so the CPU
/// fallback could not run it either.
#[derive(Clone, Copy)]
enum Refusal {
    /// A `RuntimeError` with this message (`{dtype}`: the tensor's dtype).
    Runtime(&'static str),
    /// A `NotImplementedError` with this message.
    Unsupported(&'static str),
    /// The dispatch macro's `NotImplementedError`: kernel `"name" not implemented for 'dtype'`.
    Kernel(&'static str),
    /// [`Refusal::Kernel`] of softmax's kernels, `{name}_lastdim_kernel_impl` along the last
    /// dim and `{name}_kernel_impl` along another.
    Softmax(&'static str),
}

/// `embedding_bag`'s check of its weight's dtype (a `TensorArg` check).
const EMBEDDING_BAG_WEIGHT: &str = "Expected tensor for argument #1 'weight' to have one of the \
     following scalar types: Half, BFloat16, Float, Double; but got CPU{dtype}Type instead (while \
     checking arguments for embedding_bag)";

/// The CPU's refusals of complex tensors, by op (in [`listed`]'s form).
const REFUSED: &[(&str, Refusal)] = {
    use Refusal::{Kernel, Runtime, Softmax, Unsupported};
    &[
        (
            "maximum",
            Runtime("maximum not implemented for complex tensors."),
        ),
        (
            "minimum",
            Runtime("minimum not implemented for complex tensors."),
        ),
        ("fmax", Runtime("fmax not implemented for complex tensors.")),
        ("fmin", Runtime("fmin not implemented for complex tensors.")),
        (
            "sort",
            Runtime("Sort does not support complex dtypes on CPU"),
        ),
        (
            "topk",
            Runtime("topk does not support complex dtypes on CPU"),
        ),
        (
            "nansum",
            Runtime("nansum on CPU does not support complex inputs"),
        ),
        (
            "isin",
            Runtime("Unsupported input type encountered for isin(): {dtype}"),
        ),
        (
            "heaviside",
            Runtime("heaviside is not yet implemented for complex tensors."),
        ),
        (
            "argmax",
            Runtime("argmax(): does not support complex input"),
        ),
        (
            "argmin",
            Runtime("argmin(): does not support complex input"),
        ),
        ("max.dim", Runtime("max(): does not support complex input")),
        (
            "max.dim_max",
            Runtime("max(): does not support complex input"),
        ),
        ("min.dim", Runtime("min(): does not support complex input")),
        (
            "min.dim_min",
            Runtime("min(): does not support complex input"),
        ),
        (
            "isposinf",
            Runtime("isposinf does not support complex inputs."),
        ),
        (
            "isneginf",
            Runtime("isneginf does not support complex inputs."),
        ),
        (
            "clamp",
            Unsupported("clamp is not supported for complex types"),
        ),
        (
            "clamp_min",
            Unsupported("clamp is not supported for complex types"),
        ),
        (
            "clamp_max",
            Unsupported("clamp is not supported for complex types"),
        ),
        (
            "relu",
            Unsupported("clamp is not supported for complex types"),
        ),
        (
            "hardtanh",
            Unsupported("clamp is not supported for complex types"),
        ),
        (
            "floor",
            Unsupported("floor is not supported for complex inputs"),
        ),
        (
            "ceil",
            Unsupported("ceil is not supported for complex inputs"),
        ),
        (
            "trunc",
            Unsupported("trunc is not supported for complex inputs"),
        ),
        (
            "signbit",
            Unsupported("signbit is not implemented for complex tensors."),
        ),
        (
            "sign",
            Unsupported(
                "Unlike NumPy, torch.sign is not intended to support complex numbers. Please \
                 use torch.sgn instead.",
            ),
        ),
        ("max.", Kernel("max_all")),
        ("min.", Kernel("min_all")),
        ("amax", Kernel("max_values_cpu")),
        ("amin", Kernel("min_values_cpu")),
        ("aminmax", Kernel("aminmax_cpu")),
        ("histc", Kernel("aminmax_cpu")),
        ("_cummax_helper", Kernel("cummax_cpu")),
        ("_cummin_helper", Kernel("cummin_cpu")),
        ("kthvalue", Kernel("kthvalue_cpu")),
        ("median.", Kernel("median_cpu")),
        ("nanmedian.", Kernel("median_cpu")),
        ("median.dim", Kernel("median_out")),
        ("mode", Kernel("mode_cpu")),
        ("lt", Kernel("lt_cpu")),
        ("le", Kernel("le_cpu")),
        ("gt", Kernel("gt_cpu")),
        ("ge", Kernel("ge_cpu")),
        ("floor_divide", Kernel("div_floor_cpu")),
        ("remainder", Kernel("remainder_cpu")),
        ("fmod", Kernel("fmod_cpu")),
        ("hypot", Kernel("hypot_cpu")),
        ("atan2", Kernel("atan2_cpu")),
        ("copysign", Kernel("copysign_cpu")),
        ("nextafter", Kernel("nextafter_cpu")),
        ("xlogy", Kernel("xlogy_cpu")),
        ("searchsorted", Kernel("searchsorted_out_cpu")),
        ("bucketize", Kernel("searchsorted_out_cpu")),
        ("_unique2", Kernel("unique")),
        ("unique_consecutive", Kernel("unique")),
        ("mish", Kernel("mish_cpu")),
        (
            "frexp",
            Runtime("torch.frexp() only supports floating-point dtypes"),
        ),
        ("_embedding_bag", Runtime(EMBEDDING_BAG_WEIGHT)),
        ("_embedding_bag_forward_only", Runtime(EMBEDDING_BAG_WEIGHT)),
        ("round.", Kernel("round_vml_cpu")),
        ("frac", Kernel("frac_cpu")),
        ("erf", Kernel("erf_vml_cpu")),
        ("erfc", Kernel("erfc_vml_cpu")),
        ("lgamma", Kernel("lgamma_vml_cpu")),
        ("digamma", Kernel("digamma")),
        ("i0", Kernel("i0_vml_cpu")),
        ("logit", Kernel("logit_cpu")),
        ("gelu", Kernel("GeluKernelImpl")),
        ("leaky_relu", Kernel("leaky_relu_cpu")),
        ("elu", Kernel("elu_cpu")),
        ("softplus", Kernel("softplus_cpu")),
        ("bitwise_and", Kernel("bitwise_and_cpu")),
        ("bitwise_or", Kernel("bitwise_or_cpu")),
        ("bitwise_xor", Kernel("bitwise_xor_cpu")),
        ("arange", Kernel("arange_cpu")),
        ("_standard_gamma", Kernel("gamma_cpu")),
        ("_standard_gamma_grad", Kernel("_standard_gamma_grad_cpu")),
        ("_fused_sgd_", Kernel("fused_sgd_kernel")),
        ("_fused_adam_", Kernel("fused_adam_kernel")),
        ("_fused_adamw_", Kernel("fused_adam_kernel")),
        ("_fused_adagrad_", Kernel("fused_adagrad_kernel")),
        (
            "_cdist_forward",
            Runtime("cdist only supports floating-point dtypes, X1 got: {dtype}"),
        ),
        ("_softmax", Softmax("softmax")),
        ("_log_softmax", Softmax("log_softmax")),
        ("native_layer_norm", Kernel("LayerNormKernelImpl")),
        ("native_group_norm", Kernel("GroupNormKernelImpl")),
        ("native_batch_norm", Kernel("batch_norm")),
        ("_native_batch_norm_legit", Kernel("batch_norm")),
        ("hardswish", Kernel("hardswish_cpu")),
        ("hardsigmoid", Kernel("hardsigmoid_cpu")),
        ("log_sigmoid_forward", Kernel("log_sigmoid_cpu")),
        ("hardshrink", Kernel("hardshrink_cpu")),
        ("softshrink", Kernel("softshrink_check")),
        ("_prelu_kernel", Kernel("prelu_cpu")),
        ("glu", Kernel("glu_cpu")),
        ("max_pool2d_with_indices", Kernel("max_pool2d")),
        ("max_pool3d_with_indices", Kernel("max_pool3d")),
        ("avg_pool2d", Kernel("avg_pool2d")),
        ("avg_pool3d", Kernel("avg_pool3d_out_frame")),
        ("_adaptive_avg_pool2d", Kernel("adaptive_avg_pool2d")),
        ("_adaptive_avg_pool3d", Kernel("adaptive_avg_pool3d_cpu")),
        ("adaptive_max_pool2d", Kernel("adaptive_max_pool2d")),
        ("adaptive_max_pool3d", Kernel("adaptive_max_pool3d_cpu")),
        (
            "upsample_nearest1d",
            Kernel("compute_indices_weights_nearest"),
        ),
        (
            "upsample_nearest3d",
            Kernel("compute_indices_weights_nearest"),
        ),
        (
            "_upsample_nearest_exact1d",
            Kernel("compute_indices_weights_nearest"),
        ),
        (
            "_upsample_nearest_exact3d",
            Kernel("compute_indices_weights_nearest"),
        ),
        (
            "upsample_linear1d",
            Kernel("compute_indices_weights_linear"),
        ),
        (
            "upsample_trilinear3d",
            Kernel("compute_indices_weights_linear"),
        ),
        (
            "upsample_bicubic2d",
            Kernel("compute_indices_weights_cubic"),
        ),
        ("mse_loss", Kernel("mse_cpu")),
        ("smooth_l1_loss", Kernel("smooth_l1_cpu")),
        ("huber_loss", Kernel("huber_cpu")),
        ("binary_cross_entropy", Kernel("binary_cross_entropy")),
        ("nll_loss_forward", Kernel("nll_loss_out_frame")),
        ("erfinv", Kernel("erfinv_vml_cpu")),
        ("rrelu_with_noise", Kernel("leaky_relu_cpu")),
        ("threshold", Kernel("threshold_cpu")),
        ("grid_sampler_2d", Kernel("grid_sampler_2d_cpu_kernel_impl")),
        ("grid_sampler_3d", Kernel("grid_sampler3d_cpu")),
        ("_ctc_loss", Kernel("ctc_loss_cpu")),
        ("_pdist_forward", Kernel("pdist")),
        (
            "multilabel_margin_loss_forward",
            Kernel("multilabel_margin_loss_forward_out_frame"),
        ),
        ("multi_margin_loss", Kernel("multi_margin_loss_cpu_kernel")),
        ("max_unpool2d", Kernel("max_unpool2d")),
        ("_weight_norm_interface", Kernel("weight_norm_kernel")),
        ("kl_div", Runtime("kl_div: Complex inputs not supported.")),
    ]
};

/// The CPU's error for complex `dtype` in op `name.overload` on `args`, where the CPU
/// refuses it.
fn cpu_refusal(name: &str, overload: &str, dtype: ScalarType, args: &[Arg]) -> Option<Error> {
    let (_, refusal) = REFUSED
        .iter()
        .find(|(entry, _)| listed(&[entry], name, overload))?;
    let kernel = |kernel: &str| {
        Error::unsupported(format!(
            "\"{kernel}\" not implemented for '{}'",
            dtype.name()
        ))
    };
    Some(match *refusal {
        Refusal::Runtime(message) => Error::invalid(message.replace("{dtype}", dtype.name())),
        Refusal::Unsupported(message) => Error::unsupported(message),
        Refusal::Kernel(name) => kernel(name),
        Refusal::Softmax(name) => {
            let last = match args {
                [Arg::Tensor(x), Arg::Integer(dim), ..] => {
                    let n = x.dim().max(1) as i64;
                    *dim == -1 || *dim == n - 1
                }
                _ => true,
            };
            let along = if last { "_lastdim" } else { "" };
            kernel(&format!("{name}{along}_kernel_impl"))
        }
    })
}

fn listed(list: &[&str], name: &str, overload: &str) -> bool {
    let base = name.strip_suffix('_').unwrap_or(name);
    list.iter().any(|&entry| match entry.split_once('.') {
        Some((n, o)) => n == name && o == overload,
        None => entry == name || entry == base,
    })
}

fn is_out(overload: &str) -> bool {
    overload == "out" || overload.ends_with("_out") || overload.starts_with("Out")
}

/// An in-place form of a casting op on a real `self` with a complex operand: the CPU's
/// iterator refuses to cast the complex result into `self` (comparisons excepted).
fn check_in_place_cast(name: &str, args: &[Arg]) -> Result<()> {
    let comparison = matches!(name, "lt_" | "le_" | "gt_" | "ge_");
    let Some((Arg::Tensor(x), rest)) = args.split_first() else {
        return Ok(());
    };
    if !name.ends_with('_') || comparison || x.dtype.is_complex() {
        return Ok(());
    }
    let mut state = ResultType::default();
    state.tensor(x.dtype, x.dim());
    for arg in rest {
        match arg {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) => state.tensor(t.dtype, t.dim()),
            // A complex number as `clamp`'s bound fails converting it, before any iterator.
            Arg::Scalar(s) if !name.starts_with("clamp") => state.number(*s),
            _ => {}
        }
    }
    match state.result() {
        Some(result) if result.is_complex() => Err(Error::invalid(format!(
            "result type {} can't be cast to the desired output type {}",
            result.name(),
            x.dtype.name()
        ))),
        _ => Ok(()),
    }
}

/// Which complex arguments op `name.overload` takes.
#[derive(Debug, Clone, Copy)]
pub struct Accepts {
    pub tensors: bool,
    pub numbers: bool,
    /// A binary op whose iterator casts its result (see [`CASTING_BINARY`]).
    casting: bool,
    /// An `out=` overload, whose last argument takes the result.
    out: bool,
}

impl Accepts {
    pub fn of(name: &str, overload: &str) -> Self {
        let numbers = listed(NUMBERS, name, overload);
        Accepts {
            tensors: numbers || listed(TENSORS, name, overload),
            numbers,
            casting: listed(CASTING_BINARY, name, overload),
            out: is_out(overload),
        }
    }

    /// Refuses the complex tensors, dtypes and numbers among `args` that the op does not
    /// take.
    pub fn check(self, name: &str, overload: &str, args: &[Arg]) -> Result<()> {
        if self.tensors && self.numbers {
            return Ok(());
        }
        if self.casting {
            check_in_place_cast(name, args)?;
        }
        // A complex `out=` of a casting op takes the real result.
        let inputs = match args.split_last() {
            Some((Arg::Tensor(_), inputs)) if self.casting && self.out => inputs,
            _ => args,
        };
        let complex = |t: &&TensorMeta| !self.tensors && t.dtype.is_complex();
        let found = inputs.iter().find_map(|a| match a {
            Arg::Tensor(t) | Arg::OptionalTensor(Some(t)) if complex(&t) => Some(Some(t.dtype)),
            Arg::TensorList(list) => list.iter().find(complex).map(|t| Some(t.dtype)),
            Arg::OptionalTensorList(list) => {
                list.iter().flatten().find(complex).map(|t| Some(t.dtype))
            }
            Arg::Dtype(d) if !self.tensors && d.is_complex() => Some(Some(*d)),
            Arg::Scalar(Scalar::Complex(_)) if !self.numbers => Some(None),
            _ => None,
        });
        let what = match found {
            None => return Ok(()),
            Some(Some(dtype)) => {
                if let Some(refusal) = cpu_refusal(name, overload, dtype, args) {
                    return Err(refusal);
                }
                format!("{} tensors", dtype.name())
            }
            Some(None) => "complex numbers".to_string(),
        };
        Err(Error::unsupported(format!(
            "{} does not support {what} on device remote yet; set \
             TORCH_REMOTE_CPU_FALLBACK=1 to run it on the CPU instead",
            crate::ops::registry::in_library(name, overload),
        )))
    }
}

/// `view_as_real(self)`: a complex tensor's parts as a trailing dim of 2.
pub fn view_as_real(args: &Args) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    ensure!(
        x.dtype.is_complex(),
        "view_as_real is only supported for complex tensors"
    );
    Ok(vec![Output::Tensor(real_view(x))])
}

/// Complex `x`'s parts as real numbers, in a trailing dim of 2.
pub fn real_view(x: &TensorMeta) -> TensorMeta {
    let mut sizes = x.sizes.clone();
    sizes.push(2);
    let mut strides: Vec<i64> = x.strides.iter().map(|s| s * 2).collect();
    strides.push(1);
    TensorMeta {
        dtype: x.dtype.real_part(),
        ..x.view(sizes, strides, x.storage_offset * 2)
    }
}

/// `view_as_complex(self)`: a float or double tensor whose last dim holds (real, imaginary)
/// pairs, as complex numbers.
pub fn view_as_complex(args: &Args) -> Outputs {
    args.at_most(1)?;
    let x = args.tensor(0)?;
    let Some(dtype) = x
        .dtype
        .complex_of()
        .filter(|_| matches!(x.dtype, ScalarType::Float32 | ScalarType::Float64))
    else {
        if x.dtype == ScalarType::Float16 {
            return Err(Error::unsupported(
                "view_as_complex of a Half tensor (ComplexHalf) is not supported on device \
                 remote; set TORCH_REMOTE_CPU_FALLBACK=1 to run it on the CPU instead",
            ));
        }
        return Err(Error::invalid(format!(
            "view_as_complex is only supported for half, float and double tensors, but got a \
             tensor of scalar type: {}",
            x.dtype.name()
        )));
    };
    ensure!(
        x.dim() != 0,
        "Input tensor must have one or more dimensions"
    );
    let last = x.dim() - 1;
    ensure!(
        x.sizes[last] == 2,
        "Tensor must have a last dimension of size 2"
    );
    ensure!(
        x.strides[last] == 1,
        "Tensor must have a last dimension with stride 1"
    );
    ensure!(
        x.strides[..last].iter().all(|s| s % 2 == 0),
        "Tensor must have a stride divisible by 2 for all but last dimension"
    );
    ensure!(
        x.storage_offset % 2 == 0,
        "Tensor must have a storage_offset divisible by 2"
    );
    let strides = x.strides[..last].iter().map(|s| s / 2).collect();
    let view = TensorMeta {
        dtype,
        ..x.view(x.sizes[..last].to_vec(), strides, x.storage_offset / 2)
    };
    Ok(vec![Output::Tensor(view)])
}

/// `polar(abs, angle)` and `complex(real, imag)` with their `out=` forms: two float or double
/// tensors of one dtype combined elementwise into its complex dtype.
pub fn combine(args: &Args, cx: &mut Ctx, form: Form, op: LibraryOp) -> Outputs {
    args.at_most(2 + form.out_len())?;
    let (a, b) = (args.tensor(0)?, args.tensor(1)?);
    let real = |t: &TensorMeta| {
        matches!(
            t.dtype,
            ScalarType::Float16 | ScalarType::Float32 | ScalarType::Float64
        )
    };
    ensure!(
        real(a) && real(b),
        "Expected both inputs to be Half, Float or Double tensors but got {} and {}",
        a.dtype.name(),
        b.dtype.name()
    );
    ensure!(
        a.dtype == b.dtype,
        "Expected object of scalar type {} but got scalar type {} for second argument",
        a.dtype.name(),
        b.dtype.name()
    );
    if a.dtype == ScalarType::Float16 {
        return Err(Error::unsupported(
            "ComplexHalf results are not supported on device remote; set \
             TORCH_REMOTE_CPU_FALLBACK=1 to run this op on the CPU instead",
        ));
    }
    let dtype = a.dtype.complex_of().expect("a float or double dtype");
    let dest = form.dest(args)?;
    if let crate::ops::Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == dtype,
            "Expected object of scalar type {} but got scalar type {} for argument 'out'",
            dtype.name(),
            out.dtype.name()
        );
    }
    let pw = Pointwise::new(vec![Value::Tensor(a), Value::Tensor(b)])?;
    let target = pw.target(cx, dest, dtype, false)?;
    let inputs = [pw.expanded(0)?, pw.expanded(1)?];
    target.run(cx, "library", |k, out| {
        k.library(op, &inputs, std::slice::from_ref(out))
    })
}

/// `conj_physical.out(self, *, out)`: the conjugate, computed (real inputs are copied).
pub fn conj_physical(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(1 + form.out_len())?;
    let x = args.tensor(0)?;
    let (target, input) = crate::ops::iter::same_dtype_target(cx, form.dest(args)?, x, false)?;
    if x.dtype.is_complex() {
        target.run(cx, "unary", |k, out| {
            k.unary(UnaryOp::Conj, &input, x.dtype, out)
        })
    } else {
        target.run(cx, "copy", |k, out| k.copy(&input, out))
    }
}

/// `_fft_r2c(self, dim, normalization, onesided)`, `_fft_c2r(self, dim, normalization,
/// last_dim_size)` and `_fft_c2c(self, dim, normalization, forward)`.
pub fn fft(args: &Args, cx: &mut Ctx, kind: FftKind) -> Outputs {
    args.at_most(4)?;
    let x = args.tensor(0)?;
    let dims = wrapped_dims(args.int_list(1)?, x.dim())?;
    let normalization = args.int(2)?;
    ensure!(
        (0..=2).contains(&normalization),
        "Invalid normalization mode: {normalization}"
    );
    let (flag, last_size) = match kind {
        FftKind::ComplexToReal => (false, args.int(3)?),
        _ => (args.bool_or(3, false)?, 0),
    };
    check_fft_input(x, kind)?;
    ensure!(
        !dims.is_empty() || kind == FftKind::ComplexToComplex,
        "a real-to-complex or complex-to-real FFT needs at least one dim"
    );
    let mut sizes = x.sizes.clone();
    let dtype = match kind {
        FftKind::RealToComplex => {
            if flag {
                let last = *dims.last().expect("checked non-empty");
                sizes[last] = sizes[last] / 2 + 1;
            }
            x.dtype.complex_of().expect("checked floating")
        }
        FftKind::ComplexToReal => {
            ensure!(
                last_size >= 1,
                "Invalid number of data points ({last_size}) specified"
            );
            sizes[*dims.last().expect("checked non-empty")] = last_size;
            x.dtype.real_part()
        }
        FftKind::ComplexToComplex => x.dtype,
    };
    let strides = fft_layout(x, &sizes, &dims, kind);
    let out = cx.empty(&sizes, strides, dtype)?;
    let params = FftParams {
        kind,
        dims: dims.iter().map(|&d| d as i64).collect(),
        normalization,
        forward: flag,
        last_size,
    };
    launch(
        cx,
        LibraryOp::Fft(params),
        std::slice::from_ref(x),
        vec![out],
    )
}

fn wrapped_dims(dims: &[i64], ndim: usize) -> Result<Vec<usize>> {
    let mut wrapped = Vec::with_capacity(dims.len());
    for &d in dims {
        let w = wrap_dim_of_dims(d, ndim)?;
        ensure!(!wrapped.contains(&w), "FFT dims must be unique");
        wrapped.push(w);
    }
    Ok(wrapped)
}

/// The CPU's checks of an FFT kernel's input: the kind's dtypes, then what MKL takes.
fn check_fft_input(x: &TensorMeta, kind: FftKind) -> Result<()> {
    match kind {
        FftKind::RealToComplex => ensure!(
            x.dtype.is_floating(),
            "Only supports floating-point dtypes, but found: {}",
            x.dtype.name()
        ),
        _ => ensure!(
            x.dtype.is_complex(),
            "Only supports complex dtypes, but found: {}",
            x.dtype.name()
        ),
    }
    ensure!(
        !matches!(x.dtype, ScalarType::Float16 | ScalarType::Bfloat16),
        "MKL FFT doesn't support tensors of type: {}",
        x.dtype.name()
    );
    Ok(())
}

/// The strides of the CPU's FFT output of `sizes`. The transformed dims are taken in input
/// stride order (all but the last for one-sided transforms); a complex-to-real transform of
/// several dims is a complex-to-complex one of all but the last, then a one-dim transform of
/// that intermediate.
fn fft_layout(x: &TensorMeta, sizes: &[i64], dims: &[usize], kind: FftKind) -> Vec<i64> {
    let Some((&last, rest)) = dims.split_last() else {
        return packed(&x.strides, sizes, &[]);
    };
    match kind {
        FftKind::ComplexToComplex => packed(&x.strides, sizes, &by_stride(&x.strides, dims)),
        FftKind::RealToComplex => {
            let mut order = by_stride(&x.strides, rest);
            order.push(last);
            packed(&x.strides, sizes, &order)
        }
        FftKind::ComplexToReal if rest.is_empty() => packed(&x.strides, sizes, &[last]),
        FftKind::ComplexToReal => {
            let middle = packed(&x.strides, &x.sizes, &by_stride(&x.strides, rest));
            packed(&middle, sizes, &[last])
        }
    }
}

/// `dims` from the largest input stride to the smallest, ties in their given order.
fn by_stride(strides: &[i64], dims: &[usize]) -> Vec<usize> {
    let mut sorted = dims.to_vec();
    sorted.sort_by_key(|&d| std::cmp::Reverse(strides[d]));
    sorted
}

/// Dense strides for `sizes` with the untransformed dims outermost, in input stride order,
/// and the transformed ones innermost in `signal` order (c10's contiguous strides count an
/// empty dim as 1).
fn packed(in_strides: &[i64], sizes: &[i64], signal: &[usize]) -> Vec<i64> {
    let batch: Vec<usize> = (0..sizes.len()).filter(|d| !signal.contains(d)).collect();
    let batch = by_stride(in_strides, &batch);
    let mut strides = vec![0; sizes.len()];
    let mut step = 1;
    for &d in signal.iter().rev() {
        strides[d] = step;
        step *= sizes[d].max(1);
    }
    let mut batch_numel = 1;
    for &d in batch.iter().rev() {
        strides[d] = batch_numel * step;
        batch_numel *= sizes[d];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{arg, f32s, geometry, meta, run};

    fn strided(sizes: &[i64], strides: &[i64]) -> TensorMeta {
        TensorMeta {
            strides: strides.to_vec(),
            ..f32s(sizes, 1)
        }
    }

    #[test]
    fn fft_layouts_follow_the_cpu() {
        let x = f32s(&[4, 6, 8], 1);
        let halved = [4, 6, 5];
        assert_eq!(
            fft_layout(&x, &halved, &[0, 2], FftKind::RealToComplex),
            vec![5, 20, 1]
        );
        assert_eq!(
            fft_layout(&x, &x.sizes, &[1], FftKind::RealToComplex),
            vec![48, 1, 6]
        );
        let transposed = strided(&[8, 6, 4], &[1, 8, 48]);
        assert_eq!(
            fft_layout(
                &transposed,
                &transposed.sizes,
                &[2],
                FftKind::ComplexToComplex
            ),
            vec![4, 32, 1]
        );
    }

    #[test]
    fn view_as_real_and_back() {
        let x = TensorMeta {
            dtype: ScalarType::Complex64,
            storage_offset: 3,
            ..f32s(&[2, 3], 1)
        };
        let (res, _) = run("view_as_real", "", vec![arg(&x)]);
        let real = meta(&res.unwrap(), 0);
        assert_eq!(
            geometry(&real),
            (vec![2, 3, 2], vec![6, 2, 1], 6, ScalarType::Float32)
        );
        let (res, _) = run("view_as_complex", "", vec![arg(&real)]);
        assert_eq!(geometry(&meta(&res.unwrap(), 0)), geometry(&x));
        let odd = strided(&[3, 2], &[3, 1]);
        let (res, _) = run("view_as_complex", "", vec![arg(&odd)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("stride divisible by 2 for all but last dimension"));
    }

    #[test]
    fn other_ops_refuse_complex_tensors() {
        let x = TensorMeta {
            dtype: ScalarType::Complex64,
            ..f32s(&[2], 1)
        };
        let (res, _) = run("mish", "", vec![arg(&x)]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, crate::types::ErrorKind::NotImplemented);
        assert!(err
            .message
            .contains("\"mish_cpu\" not implemented for 'ComplexFloat'"));
        // An op the CPU runs for complex numbers and remote does not says so.
        let index = crate::ops::testing::tensor(&[2], ScalarType::Int64, 2);
        let args = vec![
            arg(&x),
            Arg::Integer(0),
            arg(&index),
            arg(&x),
            Arg::Str("sum".into()),
        ];
        let (res, _) = run("scatter_reduce", "two", args);
        let err = res.unwrap_err();
        assert_eq!(err.kind, crate::types::ErrorKind::NotImplemented);
        assert!(err
            .message
            .contains("aten::scatter_reduce.two does not support ComplexFloat"));
        let (res, _) = run("relu", "", vec![arg(&x)]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, crate::types::ErrorKind::NotImplemented);
        assert!(err
            .message
            .contains("clamp is not supported for complex types"));
        let (res, _) = run("maximum", "", vec![arg(&x), arg(&x)]);
        let err = res.unwrap_err();
        assert_eq!(err.kind, crate::types::ErrorKind::InvalidArgument);
        assert!(err.message.contains("maximum not implemented for complex"));
        let (res, _) = run("mul", "Tensor", vec![arg(&x), arg(&x)]);
        assert!(res.is_ok());
    }
}
