//! The op table: which handler serves each aten `(name, overload)`, and in which form.
//!
//! The table is data: one `Entry` per handler, grouped by family. `dispatch` looks ops up in it
//! and `supported` lists it, so the two never disagree. Every `(name, overload)` in it is an
//! aten schema of PyTorch 2.13.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::ops::activation::{self, Bounds, Kind};
use crate::ops::args::Args;
use crate::ops::ctx::Ctx;
use crate::ops::pad::{self, Padding};
use crate::ops::pool::Pooling;
use crate::ops::random::{self, Range};
use crate::ops::upsample::{self, Resample};
use crate::ops::Form::{Functional as F, InPlace as I, Out};
use crate::ops::Outputs;
use crate::ops::{
    advanced, amp, arrange, complex, conv, counting, ctc, data, elementwise_loss, embedding_bag,
    factorize, fractional_pool, index, indexed_write, library, margin_loss, norm, optim, pool,
    recurrent, spatial, stats, transformer,
};
use crate::ops::{
    binary, copy, factory, linalg, loss, minmax, reduce, softmax, ternary, unary, view,
};
use crate::types::{
    BinaryOp, FftKind, IndexReduceOp, LibraryOp, LossOp, MomentOp, PadMode, PoolOp, RandomOp,
    ReduceOp, SampleOp, ScanOp, ScatterOp, SelectOp, TernaryOp, UnaryOp, UpsampleMode,
};

/// A handler: runs one op on its arguments.
type Handler = fn(&Args, &mut Ctx) -> Outputs;

/// The handler of aten op `name` for each of `overloads` (`""` is the default overload).
pub struct Entry {
    pub name: &'static str,
    pub overloads: &'static [&'static str],
    pub run: Handler,
}

const fn e(name: &'static str, overloads: &'static [&'static str], run: Handler) -> Entry {
    Entry {
        name,
        overloads,
        run,
    }
}

const FACTORY: &[Entry] = &[
    e("empty", &["memory_format"], factory::empty),
    e("empty_strided", &[""], factory::empty_strided),
    e("_efficientzerotensor", &[""], factory::zero_tensor),
    e("arange", &["start_out"], |a, c| factory::arange(a, c, true)),
    e("arange", &["out"], |a, c| factory::arange(a, c, false)),
    e("eye", &["out"], |a, c| factory::eye(a, c, false)),
    e("linspace", &["out"], |a, c| factory::spaced(a, c, false)),
    e("logspace", &["out"], |a, c| factory::spaced(a, c, true)),
    e("eye", &["m_out"], |a, c| factory::eye(a, c, true)),
    e("fill_", &["Scalar", "Tensor"], factory::fill),
    e("zero_", &[""], factory::zero),
    e(
        "normal",
        &["Tensor_Tensor", "Tensor_float", "float_Tensor"],
        factory::normal_tensors,
    ),
    e("normal_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Normal)
    }),
    e("uniform_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Uniform)
    }),
    e("exponential_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Exponential)
    }),
    e("log_normal_", &[""], |a, c| {
        factory::random(a, c, RandomOp::LogNormal)
    }),
    e("cauchy_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Cauchy)
    }),
    e("geometric_", &[""], |a, c| {
        factory::random(a, c, RandomOp::Geometric)
    }),
];

const COPY: &[Entry] = &[
    e("copy_", &[""], copy::copy_),
    e("_copy_from", &[""], copy::copy_from),
    e("_copy_from_and_resize", &[""], copy::copy_from_and_resize),
    e("_to_copy", &[""], copy::to_copy),
    e("clone", &[""], copy::clone),
    e("resize_", &[""], copy::resize_),
    e("set_", &[""], copy::set_empty),
    e("set_", &["source_Tensor"], |a, _| copy::set_tensor(a)),
    e("set_", &["source_Storage"], |a, _| {
        copy::set_storage(a, false)
    }),
    e("set_", &["source_Storage_storage_offset"], |a, _| {
        copy::set_storage(a, true)
    }),
];

const VIEW: &[Entry] = &[
    e("view", &[""], |a, _| view::view(a)),
    e("_unsafe_view", &[""], |a, _| view::view(a)),
    e("view", &["dtype"], |a, _| view::view_dtype(a)),
    e("as_strided", &[""], |a, _| view::as_strided(a)),
    e("_reshape_alias", &[""], |a, _| view::reshape_alias(a)),
    e("alias", &[""], |a, _| view::alias(a)),
    e("detach", &[""], |a, _| view::alias(a)),
    e("t", &[""], |a, _| view::t(a)),
    e("transpose", &["int"], |a, _| view::transpose(a)),
    e("select", &["int"], |a, _| view::select(a)),
    e("slice", &["Tensor"], |a, _| view::slice(a)),
    e("expand", &[""], |a, _| view::expand(a)),
    e("squeeze", &["", "dim", "dims"], |a, _| view::squeeze(a)),
    e("unsqueeze", &[""], |a, _| view::unsqueeze(a)),
    e("permute", &[""], |a, _| view::permute(a)),
    e("unfold", &[""], |a, _| view::unfold(a)),
];

const COMPLEX: &[Entry] = &[
    e("view_as_real", &[""], |a, _| complex::view_as_real(a)),
    e("view_as_complex", &[""], |a, _| complex::view_as_complex(a)),
    e("polar", &[""], |a, c| {
        complex::combine(a, c, F, LibraryOp::Polar)
    }),
    e("polar", &["out"], |a, c| {
        complex::combine(a, c, Out(2), LibraryOp::Polar)
    }),
    e("complex", &[""], |a, c| {
        complex::combine(a, c, F, LibraryOp::Complex)
    }),
    e("complex", &["out"], |a, c| {
        complex::combine(a, c, Out(2), LibraryOp::Complex)
    }),
    e("conj_physical", &["out"], |a, c| {
        complex::conj_physical(a, c, Out(1))
    }),
    e("_conj_physical", &[""], |a, c| {
        complex::conj_physical(a, c, F)
    }),
    e("_fft_r2c", &[""], |a, c| {
        complex::fft(a, c, FftKind::RealToComplex)
    }),
    e("_fft_c2r", &[""], |a, c| {
        complex::fft(a, c, FftKind::ComplexToReal)
    }),
    e("_fft_c2c", &[""], |a, c| {
        complex::fft(a, c, FftKind::ComplexToComplex)
    }),
];

/// `op(self)`, `op_(self)` and `op.out(self, *, out)`; `in_place: false` for ops without `op_`.
macro_rules! unary {
    ($name:literal, $op:ident) => {
        unary!($name, $op, in_place: true)
    };
    ($name:literal, $op:ident, in_place: true) => {
        [
            e($name, &[""], |a, c| unary::unary(a, c, F, UnaryOp::$op)),
            e(concat!($name, "_"), &[""], |a, c| unary::unary(a, c, I, UnaryOp::$op)),
            e($name, &["out"], |a, c| unary::unary(a, c, Out(1), UnaryOp::$op)),
        ]
    };
    ($name:literal, $op:ident, in_place: false) => {
        [
            e($name, &[""], |a, c| unary::unary(a, c, F, UnaryOp::$op)),
            e($name, &["out"], |a, c| unary::unary(a, c, Out(1), UnaryOp::$op)),
        ]
    };
}

const UNARY: &[[Entry; 3]] = &[
    unary!("neg", Neg),
    unary!("exp", Exp),
    unary!("log", Log),
    unary!("sqrt", Sqrt),
    unary!("rsqrt", Rsqrt),
    unary!("abs", Abs),
    unary!("relu", Relu),
    unary!("sigmoid", Sigmoid),
    unary!("tanh", Tanh),
    unary!("sin", Sin),
    unary!("cos", Cos),
    unary!("ceil", Ceil),
    unary!("floor", Floor),
    unary!("round", Round),
    [
        e("round", &["decimals"], |a, c| {
            unary::round_decimals(a, c, F)
        }),
        e("round_", &["decimals"], |a, c| {
            unary::round_decimals(a, c, I)
        }),
        e("round", &["decimals_out"], |a, c| {
            unary::round_decimals(a, c, Out(2))
        }),
    ],
    unary!("trunc", Trunc),
    unary!("sign", Sign),
    // `sgn` is `sign` for every real dtype.
    unary!("sgn", Sign),
    unary!("reciprocal", Reciprocal),
    unary!("logical_not", LogicalNot),
    unary!("bitwise_not", BitwiseNot),
    unary!("erf", Erf),
    unary!("log1p", Log1p),
    unary!("expm1", Expm1),
    unary!("tan", Tan),
    unary!("asin", Asin),
    unary!("acos", Acos),
    unary!("atan", Atan),
    unary!("sinh", Sinh),
    unary!("cosh", Cosh),
    unary!("asinh", Asinh),
    unary!("acosh", Acosh),
    unary!("atanh", Atanh),
    unary!("log2", Log2),
    unary!("log10", Log10),
    unary!("exp2", Exp2),
    unary!("erfc", Erfc),
    unary!("erfinv", Erfinv),
    unary!("lgamma", Lgamma),
    unary!("digamma", Digamma),
    unary!("sinc", Sinc),
    unary!("i0", I0),
    unary!("frac", Frac),
];

/// aten has no `isnan_`.
const UNARY_FUNCTIONAL: &[[Entry; 2]] = &[
    unary!("isnan", Isnan, in_place: false),
    unary!("isneginf", Isneginf, in_place: false),
    unary!("isposinf", Isposinf, in_place: false),
    unary!("signbit", Signbit, in_place: false),
    unary!("special_erfcx", Erfcx, in_place: false),
    unary!("special_i0e", I0e, in_place: false),
    unary!("special_i1", I1, in_place: false),
    unary!("special_i1e", I1e, in_place: false),
    unary!("special_ndtr", Ndtr, in_place: false),
    unary!("special_ndtri", Ndtri, in_place: false),
    unary!("special_log_ndtr", LogNdtr, in_place: false),
    unary!("angle", Angle, in_place: false),
    unary!("special_entr", Entr, in_place: false),
    unary!("special_bessel_j0", BesselJ0, in_place: false),
    unary!("special_bessel_j1", BesselJ1, in_place: false),
    unary!("special_bessel_y0", BesselY0, in_place: false),
    unary!("special_bessel_y1", BesselY1, in_place: false),
    unary!("special_modified_bessel_i0", ModifiedBesselI0, in_place: false),
    unary!("special_modified_bessel_i1", ModifiedBesselI1, in_place: false),
    unary!("special_modified_bessel_k0", ModifiedBesselK0, in_place: false),
    unary!("special_modified_bessel_k1", ModifiedBesselK1, in_place: false),
    unary!("special_scaled_modified_bessel_k0", ScaledModifiedBesselK0, in_place: false),
    unary!("special_scaled_modified_bessel_k1", ScaledModifiedBesselK1, in_place: false),
    unary!("special_spherical_bessel_j0", SphericalBesselJ0, in_place: false),
    unary!("special_airy_ai", AiryAi, in_place: false),
];

/// `op` (functional overloads `fun`), `op_` (the same overloads) and `out=` overloads of a
/// binary op, whose `out` argument is at `out_at` (after `alpha` for add and sub).
macro_rules! binary {
    ($name:literal, $op:ident, [$($fun:literal),*], [$($out:literal),*], $out_at:literal) => {
        [
            e($name, &[$($fun),*], |a, c| binary::binary(a, c, F, BinaryOp::$op)),
            e(concat!($name, "_"), &[$($fun),*], |a, c| binary::binary(a, c, I, BinaryOp::$op)),
            e($name, &[$($out),*], |a, c| binary::binary(a, c, Out($out_at), BinaryOp::$op)),
        ]
    };
    ($name:literal, $op:ident, alpha) => {
        binary!($name, $op, ["Tensor", "Scalar"], ["out", "Scalar_out"], 3)
    };
    ($name:literal, $op:ident) => {
        binary!($name, $op, ["Tensor", "Scalar"], ["out", "Scalar_out"], 2)
    };
    ($name:literal, $op:ident, compare) => {
        binary!($name, $op, ["Tensor", "Scalar"], ["Tensor_out", "Scalar_out"], 2)
    };
    ($name:literal, $op:ident, plain) => {
        binary!($name, $op, [""], ["out"], 2)
    };
}

const BINARY_ELEMENTWISE: &[[Entry; 3]] = &[
    binary!("add", Add, alpha),
    binary!("sub", Sub, alpha),
    binary!("mul", Mul),
    binary!("remainder", Remainder, compare),
    binary!("eq", Eq, compare),
    binary!("ne", Ne, compare),
    binary!("lt", Lt, compare),
    binary!("le", Le, compare),
    binary!("gt", Gt, compare),
    binary!("ge", Ge, compare),
    binary!("bitwise_and", BitwiseAnd, compare),
    binary!("bitwise_or", BitwiseOr, compare),
    binary!("bitwise_xor", BitwiseXor, compare),
    binary!("logical_and", LogicalAnd, plain),
    binary!("logical_or", LogicalOr, plain),
    binary!("logical_xor", LogicalXor, plain),
    binary!("atan2", Atan2, plain),
    binary!("fmod", Fmod, compare),
    binary!("copysign", Copysign),
    binary!("hypot", Hypot, plain),
    binary!("logaddexp", Logaddexp, plain),
    binary!("logaddexp2", Logaddexp2, plain),
    binary!("heaviside", Heaviside, plain),
    binary!("fmax", Fmax, plain),
    binary!("fmin", Fmin, plain),
    binary!("gcd", Gcd, plain),
    binary!("lcm", Lcm, plain),
    binary!("igamma", Igamma, plain),
    binary!("igammac", Igammac, plain),
    binary!("nextafter", Nextafter, plain),
    binary!(
        "xlogy",
        Xlogy,
        ["Tensor", "Scalar_Other", "Scalar_Self"],
        ["OutTensor", "OutScalar_Other", "OutScalar_Self"],
        2
    ),
    binary!(
        "bitwise_left_shift",
        LeftShift,
        ["Tensor", "Tensor_Scalar", "Scalar_Tensor"],
        ["Tensor_out", "Tensor_Scalar_out", "Scalar_Tensor_out"],
        2
    ),
    binary!(
        "bitwise_right_shift",
        RightShift,
        ["Tensor", "Tensor_Scalar", "Scalar_Tensor"],
        ["Tensor_out", "Tensor_Scalar_out", "Scalar_Tensor_out"],
        2
    ),
];

/// `special_xlog1py` and `special_zeta`: functional and `out=` overloads, no in-place one.
macro_rules! special_binary {
    ($name:literal, $op:ident) => {
        [
            e($name, &["", "self_scalar", "other_scalar"], |a, c| {
                binary::binary(a, c, F, BinaryOp::$op)
            }),
            e(
                $name,
                &["out", "self_scalar_out", "other_scalar_out"],
                |a, c| binary::binary(a, c, Out(2), BinaryOp::$op),
            ),
        ]
    };
}

/// The orthogonal polynomials of `torch.special`, `(x, n)` with either a number: functional
/// and `out=` overloads.
macro_rules! polynomial {
    ($name:literal, $op:ident) => {
        [
            e($name, &["", "x_scalar", "n_scalar"], |a, c| {
                binary::binary(a, c, F, BinaryOp::$op)
            }),
            e($name, &["out", "x_scalar_out", "n_scalar_out"], |a, c| {
                binary::binary(a, c, Out(2), BinaryOp::$op)
            }),
        ]
    };
}

const SPECIAL_BINARY: &[[Entry; 2]] = &[
    special_binary!("special_xlog1py", Xlog1py),
    special_binary!("special_zeta", Zeta),
    polynomial!("special_chebyshev_polynomial_t", ChebyshevPolynomialT),
    polynomial!("special_chebyshev_polynomial_u", ChebyshevPolynomialU),
    polynomial!("special_chebyshev_polynomial_v", ChebyshevPolynomialV),
    polynomial!("special_chebyshev_polynomial_w", ChebyshevPolynomialW),
    polynomial!(
        "special_shifted_chebyshev_polynomial_t",
        ShiftedChebyshevPolynomialT
    ),
    polynomial!(
        "special_shifted_chebyshev_polynomial_u",
        ShiftedChebyshevPolynomialU
    ),
    polynomial!(
        "special_shifted_chebyshev_polynomial_v",
        ShiftedChebyshevPolynomialV
    ),
    polynomial!(
        "special_shifted_chebyshev_polynomial_w",
        ShiftedChebyshevPolynomialW
    ),
    polynomial!("special_hermite_polynomial_h", HermitePolynomialH),
    polynomial!("special_hermite_polynomial_he", HermitePolynomialHe),
    polynomial!("special_laguerre_polynomial_l", LaguerrePolynomialL),
    polynomial!("special_legendre_polynomial_p", LegendrePolynomialP),
];

const BINARY: &[Entry] = &[
    // `floor_divide` is `div(rounding_mode="floor")`; its in-place overloads are named apart.
    e("floor_divide", &["", "Scalar"], |a, c| {
        binary::binary(a, c, F, BinaryOp::DivFloor)
    }),
    e("floor_divide_", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, I, BinaryOp::DivFloor)
    }),
    e("floor_divide", &["out", "Scalar_out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::DivFloor)
    }),
    e("__lshift__", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, F, BinaryOp::LeftShift)
    }),
    e("__ilshift__", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, I, BinaryOp::LeftShift)
    }),
    e("__rshift__", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, F, BinaryOp::RightShift)
    }),
    e("__irshift__", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, I, BinaryOp::RightShift)
    }),
    // aten has no `maximum_` or `minimum_`.
    e("maximum", &[""], |a, c| {
        binary::binary(a, c, F, BinaryOp::Maximum)
    }),
    e("maximum", &["out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::Maximum)
    }),
    e("minimum", &[""], |a, c| {
        binary::binary(a, c, F, BinaryOp::Minimum)
    }),
    e("minimum", &["out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::Minimum)
    }),
    e("div", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, F, BinaryOp::Div)
    }),
    e("div_", &["Tensor", "Scalar"], |a, c| {
        binary::binary(a, c, I, BinaryOp::Div)
    }),
    e("div", &["out", "Scalar_out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::Div)
    }),
    e("div", &["Tensor_mode", "Scalar_mode"], |a, c| {
        binary::div_mode(a, c, F)
    }),
    e("div_", &["Tensor_mode", "Scalar_mode"], |a, c| {
        binary::div_mode(a, c, I)
    }),
    e("div", &["out_mode", "Scalar_mode_out"], |a, c| {
        binary::div_mode(a, c, Out(3))
    }),
    e(
        "pow",
        &["Tensor_Tensor", "Tensor_Scalar", "Scalar"],
        |a, c| binary::pow(a, c, F),
    ),
    e("pow_", &["Tensor", "Scalar"], |a, c| binary::pow(a, c, I)),
    e(
        "pow",
        &["Tensor_Tensor_out", "Tensor_Scalar_out", "Scalar_out"],
        |a, c| binary::pow(a, c, Out(2)),
    ),
    e("rsub", &["Tensor", "Scalar"], binary::rsub),
    e("max", &["other"], |a, c| {
        binary::binary(a, c, F, BinaryOp::Maximum)
    }),
    e("max", &["out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::Maximum)
    }),
    e("min", &["other"], |a, c| {
        binary::binary(a, c, F, BinaryOp::Minimum)
    }),
    e("min", &["out"], |a, c| {
        binary::binary(a, c, Out(2), BinaryOp::Minimum)
    }),
    e("threshold_backward", &[""], |a, c| {
        binary::threshold_backward(a, c, F)
    }),
    e("threshold_backward", &["grad_input"], |a, c| {
        binary::threshold_backward(a, c, Out(3))
    }),
];

const TERNARY: &[Entry] = &[
    e("addcmul", &[""], |a, c| {
        ternary::addc(a, c, F, TernaryOp::Addcmul)
    }),
    e("addcmul_", &[""], |a, c| {
        ternary::addc(a, c, I, TernaryOp::Addcmul)
    }),
    e("addcmul", &["out"], |a, c| {
        ternary::addc(a, c, Out(4), TernaryOp::Addcmul)
    }),
    e("addcdiv", &[""], |a, c| {
        ternary::addc(a, c, F, TernaryOp::Addcdiv)
    }),
    e("addcdiv_", &[""], |a, c| {
        ternary::addc(a, c, I, TernaryOp::Addcdiv)
    }),
    e("addcdiv", &["out"], |a, c| {
        ternary::addc(a, c, Out(4), TernaryOp::Addcdiv)
    }),
    e("lerp", &["Scalar", "Tensor"], |a, c| ternary::lerp(a, c, F)),
    e("lerp_", &["Scalar", "Tensor"], |a, c| {
        ternary::lerp(a, c, I)
    }),
    e("lerp", &["Scalar_out", "Tensor_out"], |a, c| {
        ternary::lerp(a, c, Out(3))
    }),
    e("where", &["self"], |a, c| ternary::where_(a, c, F)),
    e("where", &["self_out"], |a, c| ternary::where_(a, c, Out(3))),
];

const REDUCE: &[Entry] = &[
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

const MINMAX: &[Entry] = &[
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

const LINALG: &[Entry] = &[
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
    e(
        "_amp_foreach_non_finite_check_and_unscale_",
        &[""],
        amp::unscale,
    ),
    e("_amp_update_scale_", &[""], amp::update_scale),
    e("_fused_adam_", &[""], |a, c| {
        optim::step(a, c, false, false)
    }),
    e("_fused_adam_", &["tensor_lr"], |a, c| {
        optim::step(a, c, false, true)
    }),
    e("_fused_adamw_", &[""], |a, c| {
        optim::step(a, c, true, false)
    }),
    e("_fused_adamw_", &["tensor_lr"], |a, c| {
        optim::step(a, c, true, true)
    }),
    e("_ctc_loss", &[""], ctc::forward),
    e("frexp", &["Tensor"], unary::frexp),
    e("_weight_norm_interface", &[""], norm::weight_norm),
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

const SOFTMAX: &[Entry] = &[
    e("_softmax", &[""], |a, c| softmax::softmax(a, c, F, false)),
    e("_softmax", &["out"], |a, c| {
        softmax::softmax(a, c, Out(3), false)
    }),
    e("_log_softmax", &[""], |a, c| {
        softmax::softmax(a, c, F, true)
    }),
    e("_log_softmax", &["out"], |a, c| {
        softmax::softmax(a, c, Out(3), true)
    }),
    e("_softmax_backward_data", &[""], |a, c| {
        softmax::softmax_backward(a, c, F, false)
    }),
    e("_softmax_backward_data", &["out"], |a, c| {
        softmax::softmax_backward(a, c, Out(4), false)
    }),
    e("_log_softmax_backward_data", &[""], |a, c| {
        softmax::softmax_backward(a, c, F, true)
    }),
    e("_log_softmax_backward_data", &["out"], |a, c| {
        softmax::softmax_backward(a, c, Out(4), true)
    }),
];

const LOSS: &[Entry] = &[
    e("nll_loss_forward", &[""], |a, c| {
        loss::forward(a, c, F, false)
    }),
    e("nll_loss_forward", &["output"], |a, c| {
        loss::forward(a, c, Out(5), false)
    }),
    e("nll_loss_backward", &[""], |a, c| {
        loss::backward(a, c, F, false)
    }),
    e("nll_loss_backward", &["grad_input"], |a, c| {
        loss::backward(a, c, Out(7), false)
    }),
    e("nll_loss2d_forward", &[""], |a, c| {
        loss::forward(a, c, F, true)
    }),
    e("nll_loss2d_forward", &["output"], |a, c| {
        loss::forward(a, c, Out(5), true)
    }),
    e("nll_loss2d_backward", &[""], |a, c| {
        loss::backward(a, c, F, true)
    }),
    e("nll_loss2d_backward", &["grad_input"], |a, c| {
        loss::backward(a, c, Out(7), true)
    }),
];

/// `op`, `op_` and `op.out` (its `out` after `n` parameters) of a forward activation.
macro_rules! activation {
    ($name:literal, $kind:ident, $n:literal) => {
        [
            e($name, &[""], |a, c| {
                activation::forward(a, c, F, Kind::$kind)
            }),
            e(concat!($name, "_"), &[""], |a, c| {
                activation::forward(a, c, I, Kind::$kind)
            }),
            e($name, &["out"], |a, c| {
                activation::forward(a, c, Out(1 + $n), Kind::$kind)
            }),
        ]
    };
}

/// `op_backward` and `op_backward.grad_input` (at `out_at`) of an activation.
macro_rules! activation_backward {
    ($name:literal, $kind:ident, $out_at:literal) => {
        [
            e($name, &[""], |a, c| {
                activation::backward(a, c, F, Kind::$kind)
            }),
            e($name, &["grad_input"], |a, c| {
                activation::backward(a, c, Out($out_at), Kind::$kind)
            }),
        ]
    };
}

const ACTIVATION: &[[Entry; 3]] = &[
    activation!("gelu", Gelu, 1),
    activation!("silu", Silu, 0),
    activation!("leaky_relu", LeakyRelu, 1),
    activation!("hardtanh", Hardtanh, 2),
    activation!("elu", Elu, 3),
    activation!("mish", Mish, 0),
    activation!("hardswish", Hardswish, 0),
    activation!("hardsigmoid", Hardsigmoid, 0),
    activation!("hardshrink", Hardshrink, 1),
    activation!("softshrink", Softshrink, 1),
    activation!("threshold", Threshold, 2),
];

const ACTIVATION_BACKWARD: &[[Entry; 2]] = &[
    activation_backward!("gelu_backward", Gelu, 3),
    activation_backward!("silu_backward", Silu, 2),
    activation_backward!("sigmoid_backward", Sigmoid, 2),
    activation_backward!("tanh_backward", Tanh, 2),
    activation_backward!("leaky_relu_backward", LeakyRelu, 4),
    activation_backward!("hardtanh_backward", Hardtanh, 4),
    activation_backward!("softplus_backward", Softplus, 4),
    activation_backward!("elu_backward", Elu, 6),
    activation_backward!("logit_backward", Logit, 3),
    activation_backward!("mish_backward", Mish, 2),
    activation_backward!("hardswish_backward", Hardswish, 2),
    activation_backward!("hardsigmoid_backward", Hardsigmoid, 2),
    activation_backward!("hardshrink_backward", Hardshrink, 3),
    activation_backward!("softshrink_backward", Softshrink, 3),
];

const CLAMP: &[Entry] = &[
    e("nan_to_num", &[""], |a, c| unary::nan_to_num(a, c, F)),
    e("nan_to_num_", &[""], |a, c| unary::nan_to_num(a, c, I)),
    e("nan_to_num", &["out"], |a, c| {
        unary::nan_to_num(a, c, Out(4))
    }),
    e("polygamma", &[""], |a, c| unary::polygamma(a, c, F)),
    e("polygamma", &["out"], |a, c| unary::polygamma(a, c, Out(2))),
    e("polygamma_", &[""], |a, c| unary::polygamma(a, c, I)),
    e("logit", &[""], |a, c| unary::logit(a, c, F)),
    e("logit_", &[""], |a, c| unary::logit(a, c, I)),
    e("logit", &["out"], |a, c| unary::logit(a, c, Out(2))),
    e("rrelu_with_noise", &[""], |a, c| {
        random::rrelu_with_noise(a, c, F)
    }),
    e("rrelu_with_noise_", &[""], |a, c| {
        random::rrelu_with_noise(a, c, I)
    }),
    e("rrelu_with_noise", &["out"], |a, c| {
        random::rrelu_with_noise(a, c, Out(6))
    }),
    e("log_sigmoid_forward", &[""], |a, c| {
        activation::log_sigmoid_forward(a, c, false)
    }),
    e("log_sigmoid_forward", &["output"], |a, c| {
        activation::log_sigmoid_forward(a, c, true)
    }),
    e("log_sigmoid_backward", &[""], |a, c| {
        activation::log_sigmoid_backward(a, c, F)
    }),
    e("log_sigmoid_backward", &["grad_input"], |a, c| {
        activation::log_sigmoid_backward(a, c, Out(3))
    }),
    // aten has no `softplus_`.
    e("softplus", &[""], |a, c| {
        activation::forward(a, c, F, Kind::Softplus)
    }),
    e("softplus", &["out"], |a, c| {
        activation::forward(a, c, Out(3), Kind::Softplus)
    }),
    e("clamp", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, F, Bounds::Both)
    }),
    e("clamp_", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, I, Bounds::Both)
    }),
    e("clamp", &["out", "Tensor_out"], |a, c| {
        activation::clamp(a, c, Out(3), Bounds::Both)
    }),
    e("clamp_min", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, F, Bounds::Min)
    }),
    e("clamp_min_", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, I, Bounds::Min)
    }),
    e("clamp_min", &["out", "Tensor_out"], |a, c| {
        activation::clamp(a, c, Out(2), Bounds::Min)
    }),
    e("clamp_max", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, F, Bounds::Max)
    }),
    e("clamp_max_", &["", "Tensor"], |a, c| {
        activation::clamp(a, c, I, Bounds::Max)
    }),
    e("clamp_max", &["out", "Tensor_out"], |a, c| {
        activation::clamp(a, c, Out(2), Bounds::Max)
    }),
];

const INDEX: &[Entry] = &[
    e("index_select", &[""], |a, c| index::index_select(a, c, F)),
    e("index_select", &["out"], |a, c| {
        index::index_select(a, c, Out(3))
    }),
    e("gather", &[""], |a, c| index::gather(a, c, F)),
    e("gather", &["out"], |a, c| index::gather(a, c, Out(4))),
    e("scatter", &["src", "value"], |a, c| {
        index::scatter(a, c, F, ScatterOp::Assign)
    }),
    e("scatter_", &["src", "value"], |a, c| {
        index::scatter(a, c, I, ScatterOp::Assign)
    }),
    e("scatter", &["src_out", "value_out"], |a, c| {
        index::scatter(a, c, Out(4), ScatterOp::Assign)
    }),
    e("scatter", &["reduce", "value_reduce"], |a, c| {
        index::scatter_reduce_named(a, c, F)
    }),
    e("scatter_", &["reduce", "value_reduce"], |a, c| {
        index::scatter_reduce_named(a, c, I)
    }),
    e("scatter", &["reduce_out", "value_reduce_out"], |a, c| {
        index::scatter_reduce_named(a, c, Out(5))
    }),
    e("scatter_add", &[""], |a, c| {
        index::scatter(a, c, F, ScatterOp::Add)
    }),
    e("scatter_add_", &[""], |a, c| {
        index::scatter(a, c, I, ScatterOp::Add)
    }),
    e("scatter_add", &["out"], |a, c| {
        index::scatter(a, c, Out(4), ScatterOp::Add)
    }),
    e("scatter_reduce", &["two"], |a, c| {
        indexed_write::scatter_reduce(a, c, F)
    }),
    e("scatter_reduce_", &["two"], |a, c| {
        indexed_write::scatter_reduce(a, c, I)
    }),
    e("scatter_reduce", &["two_out"], |a, c| {
        indexed_write::scatter_reduce(a, c, Out(6))
    }),
    e("index_reduce", &[""], |a, c| {
        indexed_write::index_reduce(a, c, F)
    }),
    e("index_reduce_", &[""], |a, c| {
        indexed_write::index_reduce(a, c, I)
    }),
    e("index_reduce", &["out"], |a, c| {
        indexed_write::index_reduce(a, c, Out(6))
    }),
    e("index_copy", &[""], |a, c| {
        indexed_write::index_copy(a, c, F)
    }),
    e("index_copy_", &[""], |a, c| {
        indexed_write::index_copy(a, c, I)
    }),
    e("index_copy", &["out"], |a, c| {
        indexed_write::index_copy(a, c, Out(4))
    }),
    e("embedding_renorm_", &[""], indexed_write::embedding_renorm),
    e(
        "index_fill_",
        &["int_Scalar", "int_Tensor"],
        indexed_write::index_fill,
    ),
    e("index_add", &[""], |a, c| index::index_add(a, c, F)),
    e("index_add_", &[""], |a, c| index::index_add(a, c, I)),
    e("index_add", &["out"], |a, c| index::index_add(a, c, Out(5))),
    e("masked_fill", &["Scalar", "Tensor"], |a, c| {
        index::masked_fill(a, c, F)
    }),
    e("masked_fill_", &["Scalar", "Tensor"], |a, c| {
        index::masked_fill(a, c, I)
    }),
    e(
        "embedding_dense_backward",
        &[""],
        index::embedding_dense_backward,
    ),
    e("index", &["Tensor"], advanced::index),
    e("index_put_", &[""], |a, c| advanced::index_put(a, c, 4)),
    e("_index_put_impl_", &[""], |a, c| {
        advanced::index_put(a, c, 5)
    }),
];

const ARRANGE: &[Entry] = &[
    e("cat", &[""], |a, c| arrange::cat(a, c, F)),
    e("cat", &["out"], |a, c| arrange::cat(a, c, Out(2))),
    e("flip", &[""], arrange::flip),
    e("triu", &[""], |a, c| arrange::triangle(a, c, F, true)),
    e("triu_", &[""], |a, c| arrange::triangle(a, c, I, true)),
    e("triu", &["out"], |a, c| {
        arrange::triangle(a, c, Out(2), true)
    }),
    e("tril", &[""], |a, c| arrange::triangle(a, c, F, false)),
    e("tril_", &[""], |a, c| arrange::triangle(a, c, I, false)),
    e("tril", &["out"], |a, c| {
        arrange::triangle(a, c, Out(2), false)
    }),
    e("roll", &[""], arrange::roll),
    e("unfold_backward", &[""], arrange::unfold_backward),
    e("_logcumsumexp", &[""], |a, c| {
        arrange::logcumsumexp(a, c, F)
    }),
    e("_logcumsumexp", &["out"], |a, c| {
        arrange::logcumsumexp(a, c, Out(2))
    }),
    e("_cummax_helper", &[""], |a, c| {
        arrange::cumulative_extreme(a, c, true)
    }),
    e("_cummin_helper", &[""], |a, c| {
        arrange::cumulative_extreme(a, c, false)
    }),
    e("cumsum", &[""], |a, c| {
        arrange::scan(a, c, F, ScanOp::Cumsum)
    }),
    e("cumsum_", &[""], |a, c| {
        arrange::scan(a, c, I, ScanOp::Cumsum)
    }),
    e("cumsum", &["out"], |a, c| {
        arrange::scan(a, c, Out(3), ScanOp::Cumsum)
    }),
    e("cumprod", &[""], |a, c| {
        arrange::scan(a, c, F, ScanOp::Cumprod)
    }),
    e("cumprod_", &[""], |a, c| {
        arrange::scan(a, c, I, ScanOp::Cumprod)
    }),
    e("cumprod", &["out"], |a, c| {
        arrange::scan(a, c, Out(3), ScanOp::Cumprod)
    }),
    e("sort", &[""], |a, c| arrange::sort(a, c, false, None)),
    e("sort", &["values"], |a, c| {
        arrange::sort(a, c, false, Some(3))
    }),
    e("sort", &["stable"], |a, c| arrange::sort(a, c, true, None)),
    e("sort", &["values_stable"], |a, c| {
        arrange::sort(a, c, true, Some(4))
    }),
    e("topk", &[""], |a, c| arrange::topk(a, c, false)),
    e("topk", &["values"], |a, c| arrange::topk(a, c, true)),
];

const DATA: &[Entry] = &[
    e("nonzero", &[""], data::nonzero),
    e("masked_select", &[""], data::masked_select),
    e("masked_scatter_", &[""], data::masked_scatter_),
    e("_unique", &[""], data::unique),
    e("_unique2", &[""], data::unique2),
    e("unique_dim", &[""], data::unique_dim),
    e("unique_consecutive", &[""], data::unique_consecutive),
];

const NORM: &[Entry] = &[
    e("native_layer_norm", &[""], norm::layer_norm),
    e(
        "native_layer_norm_backward",
        &[""],
        norm::layer_norm_backward,
    ),
    e("native_batch_norm", &[""], norm::batch_norm),
    e("_native_batch_norm_legit", &[""], norm::batch_norm),
    e(
        "_native_batch_norm_legit",
        &["no_stats"],
        norm::batch_norm_without_stats,
    ),
    e(
        "_native_batch_norm_legit_no_training",
        &[""],
        norm::batch_norm_eval,
    ),
    e(
        "_native_batch_norm_legit_functional",
        &[""],
        norm::batch_norm_functional,
    ),
    e("_batch_norm_with_update", &[""], |a, c| {
        norm::batch_norm_update(a, c, true)
    }),
    e("_batch_norm_no_update", &[""], |a, c| {
        norm::batch_norm_update(a, c, false)
    }),
    e("batch_norm_backward", &[""], norm::batch_norm_backward),
    e(
        "native_batch_norm_backward",
        &[""],
        norm::batch_norm_backward,
    ),
    e("native_group_norm", &[""], norm::group_norm),
    e(
        "native_group_norm_backward",
        &[""],
        norm::group_norm_backward,
    ),
];

/// Whole layers that `torch.nn` calls as one op on an accelerator.
const LAYER: &[Entry] = &[
    e("_thnn_fused_lstm_cell", &[""], recurrent::lstm_cell),
    e(
        "_thnn_fused_lstm_cell_backward_impl",
        &[""],
        recurrent::lstm_cell_backward,
    ),
    e("_thnn_fused_gru_cell", &[""], recurrent::gru_cell),
    e(
        "_thnn_fused_gru_cell_backward",
        &[""],
        recurrent::gru_cell_backward,
    ),
    e("_embedding_bag", &[""], |a, c| {
        embedding_bag::embedding_bag(a, c, false)
    }),
    e("_embedding_bag_forward_only", &[""], |a, c| {
        embedding_bag::embedding_bag(a, c, true)
    }),
    e(
        "_embedding_bag_backward",
        &[""],
        embedding_bag::embedding_bag_backward,
    ),
    e(
        "_embedding_bag_per_sample_weights_backward",
        &[""],
        embedding_bag::per_sample_weights_backward,
    ),
    e("bincount", &[""], counting::bincount),
    e("histc", &[""], counting::histc),
    e(
        "repeat_interleave",
        &["Tensor"],
        counting::repeat_interleave,
    ),
    e("_cdist_forward", &[""], spatial::cdist),
    e("_cdist_backward", &[""], spatial::cdist_backward),
    e("linalg_cross", &[""], |a, c| spatial::cross(a, c, F)),
    e("linalg_cross", &["out"], |a, c| {
        spatial::cross(a, c, Out(3))
    }),
    e("grid_sampler_2d", &[""], |a, c| {
        spatial::grid_sampler(a, c, 2)
    }),
    e("grid_sampler_3d", &[""], |a, c| {
        spatial::grid_sampler(a, c, 3)
    }),
    e("grid_sampler_2d_backward", &[""], |a, c| {
        spatial::grid_sampler_backward(a, c, 2)
    }),
    e("grid_sampler_3d_backward", &[""], |a, c| {
        spatial::grid_sampler_backward(a, c, 3)
    }),
    e("channel_shuffle", &[""], spatial::channel_shuffle),
    e(
        "_native_multi_head_attention",
        &[""],
        transformer::multi_head_attention,
    ),
    e(
        "_transformer_encoder_layer_fwd",
        &[""],
        transformer::encoder_layer,
    ),
];

const STATS: &[Entry] = &[
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

/// The entries of max and average pooling over `$dims` spatial dims.
macro_rules! window_pools {
    ($dims:literal, $max:literal, $max_backward:literal, $avg:literal, $avg_backward:literal) => {
        [
            e($max, &[""], |a, c| pool::max_pool(a, c, $dims, false)),
            e($max, &["out"], |a, c| pool::max_pool(a, c, $dims, true)),
            e($max_backward, &[""], |a, c| {
                pool::max_pool_backward(a, c, $dims, F)
            }),
            e($max_backward, &["grad_input"], |a, c| {
                pool::max_pool_backward(a, c, $dims, Out(8))
            }),
            e($avg, &[""], |a, c| pool::avg_pool(a, c, $dims, F)),
            e($avg, &["out"], |a, c| pool::avg_pool(a, c, $dims, Out(7))),
            e($avg_backward, &[""], |a, c| {
                pool::avg_pool_backward(a, c, $dims, F)
            }),
            e($avg_backward, &["grad_input"], |a, c| {
                pool::avg_pool_backward(a, c, $dims, Out(8))
            }),
        ]
    };
}

/// The entries of adaptive average and max pooling over `$dims` spatial dims.
macro_rules! adaptive_pools {
    ($dims:literal, $avg:literal, $avg_backward:literal, $max:literal, $max_backward:literal) => {{
        const AVG: Pooling = Pooling {
            op: PoolOp::AdaptiveAvg,
            dims: $dims,
        };
        const MAX: Pooling = Pooling {
            op: PoolOp::AdaptiveMax,
            dims: $dims,
        };
        [
            e($avg, &[""], |a, c| pool::adaptive_pool(a, c, AVG, false)),
            e($avg_backward, &[""], |a, c| {
                pool::adaptive_pool_backward(a, c, AVG, F)
            }),
            e($max, &[""], |a, c| pool::adaptive_pool(a, c, MAX, false)),
            e($max, &["out"], |a, c| pool::adaptive_pool(a, c, MAX, true)),
            e($max_backward, &[""], |a, c| {
                pool::adaptive_pool_backward(a, c, MAX, F)
            }),
            e($max_backward, &["grad_input"], |a, c| {
                pool::adaptive_pool_backward(a, c, MAX, Out(3))
            }),
        ]
    }};
}

const POOL: [[Entry; 8]; 2] = [
    window_pools!(
        2,
        "max_pool2d_with_indices",
        "max_pool2d_with_indices_backward",
        "avg_pool2d",
        "avg_pool2d_backward"
    ),
    window_pools!(
        3,
        "max_pool3d_with_indices",
        "max_pool3d_with_indices_backward",
        "avg_pool3d",
        "avg_pool3d_backward"
    ),
];

const ADAPTIVE_POOL: [[Entry; 6]; 2] = [
    adaptive_pools!(
        2,
        "_adaptive_avg_pool2d",
        "_adaptive_avg_pool2d_backward",
        "adaptive_max_pool2d",
        "adaptive_max_pool2d_backward"
    ),
    adaptive_pools!(
        3,
        "_adaptive_avg_pool3d",
        "_adaptive_avg_pool3d_backward",
        "adaptive_max_pool3d",
        "adaptive_max_pool3d_backward"
    ),
];

const CONV: &[Entry] = &[
    e("_convolution", &[""], conv::convolution),
    e("convolution_backward", &[""], conv::convolution_backward),
];

/// An op, its `.out`, its backward and the backward's `.grad_input`, each run by
/// `$forward`/`$backward(args, cx, out, OP)` with `OP` the given constant.
macro_rules! with_backward {
    ($name:literal, $forward:path, $backward:path, $ty:ty, $op:expr) => {{
        const OP: $ty = $op;
        [
            e($name, &[""], |a, c| $forward(a, c, false, OP)),
            e($name, &["out"], |a, c| $forward(a, c, true, OP)),
            e(concat!($name, "_backward"), &[""], |a, c| {
                $backward(a, c, false, OP)
            }),
            e(concat!($name, "_backward"), &["grad_input"], |a, c| {
                $backward(a, c, true, OP)
            }),
        ]
    }};
}

macro_rules! elementwise_loss {
    ($name:literal, $op:ident) => {
        with_backward!(
            $name,
            elementwise_loss::forward,
            elementwise_loss::backward,
            LossOp,
            LossOp::$op
        )
    };
}

const ELEMENTWISE_LOSS: &[[Entry; 4]] = &[
    elementwise_loss!("mse_loss", Mse),
    elementwise_loss!("smooth_l1_loss", SmoothL1),
    elementwise_loss!("binary_cross_entropy", BinaryCrossEntropy),
    // Huber's backward names its `out=` form `out`.
    [
        e("huber_loss", &[""], |a, c| {
            elementwise_loss::forward(a, c, false, LossOp::Huber)
        }),
        e("huber_loss", &["out"], |a, c| {
            elementwise_loss::forward(a, c, true, LossOp::Huber)
        }),
        e("huber_loss_backward", &[""], |a, c| {
            elementwise_loss::backward(a, c, false, LossOp::Huber)
        }),
        e("huber_loss_backward", &["out"], |a, c| {
            elementwise_loss::backward(a, c, true, LossOp::Huber)
        }),
    ],
];

macro_rules! upsample {
    ($name:literal, $mode:ident, $dims:literal) => {
        with_backward!(
            $name,
            upsample::upsample,
            upsample::upsample_backward,
            Resample,
            Resample {
                mode: UpsampleMode::$mode,
                dims: $dims,
            }
        )
    };
}

const UPSAMPLE: &[[Entry; 4]] = &[
    upsample!("upsample_nearest1d", Nearest, 1),
    upsample!("upsample_nearest2d", Nearest, 2),
    upsample!("upsample_nearest3d", Nearest, 3),
    upsample!("_upsample_nearest_exact1d", NearestExact, 1),
    upsample!("_upsample_nearest_exact2d", NearestExact, 2),
    upsample!("_upsample_nearest_exact3d", NearestExact, 3),
    upsample!("upsample_linear1d", Linear, 1),
    upsample!("upsample_bilinear2d", Linear, 2),
    upsample!("upsample_trilinear3d", Linear, 3),
    upsample!("upsample_bicubic2d", Cubic, 2),
    upsample!("_upsample_bilinear2d_aa", LinearAntialias, 2),
    upsample!("_upsample_bicubic2d_aa", CubicAntialias, 2),
];

macro_rules! padding {
    ($name:literal, $mode:ident, $dims:literal) => {
        with_backward!(
            $name,
            pad::pad,
            pad::pad_backward,
            Padding,
            Padding {
                mode: PadMode::$mode,
                dims: $dims,
            }
        )
    };
}

const PAD: &[[Entry; 4]] = &[
    padding!("reflection_pad1d", Reflect, 1),
    padding!("reflection_pad2d", Reflect, 2),
    padding!("reflection_pad3d", Reflect, 3),
    padding!("replication_pad1d", Replicate, 1),
    padding!("replication_pad2d", Replicate, 2),
    padding!("replication_pad3d", Replicate, 3),
];

const RANDOM: &[Entry] = &[
    e("bernoulli_", &["float"], random::bernoulli),
    e("bernoulli_", &["Tensor"], |a, c| {
        random::bernoulli_tensor(a, c)
    }),
    e("poisson", &[""], |a, c| {
        random::sample(a, c, SampleOp::Poisson)
    }),
    e("_standard_gamma", &[""], |a, c| {
        random::sample(a, c, SampleOp::StandardGamma)
    }),
    e("_standard_gamma_grad", &[""], |a, c| {
        random::standard_gamma_grad(a, c)
    }),
    e("_sample_dirichlet", &[""], |a, c| {
        random::sample(a, c, SampleOp::Dirichlet)
    }),
    e("random_", &[""], |a, c| {
        random::random(a, c, Range::Default)
    }),
    e("random_", &["to"], |a, c| random::random(a, c, Range::To)),
    e("random_", &["from"], |a, c| {
        random::random(a, c, Range::From)
    }),
    e("multinomial", &[""], |a, c| random::multinomial(a, c, F)),
    e("multinomial", &["out"], |a, c| {
        random::multinomial(a, c, Out(4))
    }),
    e("randperm", &["out"], |a, c| random::randperm(a, c, false)),
    e("randperm", &["generator_out"], |a, c| {
        random::randperm(a, c, true)
    }),
    e("native_dropout", &[""], random::dropout),
    e("kthvalue", &[""], |a, c| {
        arrange::select(a, c, SelectOp::Kthvalue, false)
    }),
    e("kthvalue", &["values"], |a, c| {
        arrange::select(a, c, SelectOp::Kthvalue, true)
    }),
    e("median", &["dim"], |a, c| {
        arrange::select(a, c, SelectOp::Median, false)
    }),
    e("median", &["dim_values"], |a, c| {
        arrange::select(a, c, SelectOp::Median, true)
    }),
    e("nanmedian", &["dim"], |a, c| {
        arrange::select(a, c, SelectOp::Nanmedian, false)
    }),
    e("nanmedian", &["dim_values"], |a, c| {
        arrange::select(a, c, SelectOp::Nanmedian, true)
    }),
    e("mode", &[""], |a, c| {
        arrange::select(a, c, SelectOp::Mode, false)
    }),
    e("mode", &["values"], |a, c| {
        arrange::select(a, c, SelectOp::Mode, true)
    }),
    e("median", &[""], |a, c| {
        arrange::median_all(a, c, SelectOp::Median)
    }),
    e("nanmedian", &[""], |a, c| {
        arrange::median_all(a, c, SelectOp::Nanmedian)
    }),
    e("native_dropout_backward", &[""], |a, c| {
        random::dropout_backward(a, c, F)
    }),
    e("native_dropout_backward", &["out"], |a, c| {
        random::dropout_backward(a, c, Out(3))
    }),
];

const fn norm(dims: bool, dtype: bool, out: bool) -> stats::NormForm {
    stats::NormForm { dims, dtype, out }
}

/// Every entry of the table, family by family.
fn entries() -> impl Iterator<Item = &'static Entry> {
    let families: [&'static [Entry]; 20] = [
        FACTORY, COPY, VIEW, BINARY, TERNARY, REDUCE, MINMAX, LINALG, SOFTMAX, LOSS, CLAMP, INDEX,
        DATA, ARRANGE, NORM, LAYER, STATS, CONV, RANDOM, COMPLEX,
    ];
    families
        .into_iter()
        .flatten()
        .chain(UNARY.iter().flatten())
        .chain(UNARY_FUNCTIONAL.iter().flatten())
        .chain(BINARY_ELEMENTWISE.iter().flatten())
        .chain(SPECIAL_BINARY.iter().flatten())
        .chain(ACTIVATION.iter().flatten())
        .chain(ACTIVATION_BACKWARD.iter().flatten())
        .chain(UPSAMPLE.iter().flatten())
        .chain(ELEMENTWISE_LOSS.iter().flatten())
        .chain(PAD.iter().flatten())
        .chain(POOL.iter().flatten())
        .chain(ADAPTIVE_POOL.iter().flatten())
}

/// One `name.overload` of the table; its index is the op's id.
struct Op {
    name: &'static str,
    overload: &'static str,
    run: Handler,
    /// Which complex arguments the handler takes.
    complex: complex::Accepts,
}

/// Every `name.overload` in table order, and the ids of each name's overloads. Built once
/// per instance: a scan of every entry cost more than many ops' own work.
struct Table {
    ops: Vec<Op>,
    by_name: HashMap<&'static str, Vec<u32>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let ops: Vec<Op> = entries()
            .flat_map(|entry| {
                entry.overloads.iter().map(|&overload| Op {
                    name: entry.name,
                    overload,
                    run: entry.run,
                    complex: complex::Accepts::of(entry.name, overload),
                })
            })
            .collect();
        let mut by_name: HashMap<&'static str, Vec<u32>> = HashMap::new();
        for (id, op) in (0u32..).zip(&ops) {
            by_name.entry(op.name).or_default().push(id);
        }
        Table { ops, by_name }
    })
}

/// The id of `name.overload`, or `not-implemented`.
pub fn find(name: &str, overload: &str) -> Result<u32> {
    let table = table();
    table
        .by_name
        .get(name)
        .and_then(|ids| {
            ids.iter()
                .copied()
                .find(|&id| table.ops[id as usize].overload == overload)
        })
        .ok_or_else(|| {
            Error::unsupported(format!(
                "aten::{} is not supported on device remote; set TORCH_REMOTE_CPU_FALLBACK=1 \
                 to run it on the CPU instead",
                qualified(name, overload)
            ))
        })
}

/// `name.overload`, or `name` for the default overload, as errors name an op.
pub fn qualified(name: &str, overload: &str) -> String {
    if overload.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{overload}")
    }
}

/// The `name.overload` of op `id`, if there is one.
pub fn name_of(id: u32) -> Option<String> {
    let op = table().ops.get(id as usize)?;
    Some(qualified(op.name, op.overload))
}

/// Runs the handler of op `id` (from [`find`]).
pub fn dispatch(id: u32, args: &Args, cx: &mut Ctx) -> Outputs {
    match table().ops.get(id as usize) {
        Some(op) => {
            op.complex.check(op.name, op.overload, args.raw())?;
            (op.run)(args, cx)
        }
        None => Err(Error::invalid(format!("this guest has no op with id {id}"))),
    }
}

/// Every `name.overload` the table serves (`name.` for the default overload), table order.
pub fn supported() -> Vec<String> {
    table()
        .ops
        .iter()
        .map(|op| format!("{}.{}", op.name, op.overload))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, run, tensor};
    use crate::types::{Arg, ErrorKind, Scalar, ScalarType, TensorMeta};

    /// Every `(name, overload)` the registry serves.
    fn supported() -> Vec<(String, String)> {
        super::supported()
            .into_iter()
            .map(|op| {
                let (name, overload) = op.split_once('.').expect("name.overload");
                (name.to_string(), overload.to_string())
            })
            .collect()
    }

    #[test]
    fn supported_lists_each_op_once() {
        let all = super::supported();
        assert!(!all.is_empty());
        let unique: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "duplicates in {all:?}");
        for op in [
            "add.Tensor",
            "add.out",
            "add_.Scalar",
            "empty.memory_format",
            "view.",
            "view.dtype",
            "_log_softmax.out",
            "neg.",
            "neg_.",
            "neg.out",
            "isnan.",
            "eq.Tensor_out",
            "logical_and.",
            "maximum.out",
            "div.Scalar_mode_out",
            "nll_loss_backward.grad_input",
        ] {
            assert!(all.iter().any(|s| s == op), "{op} missing");
        }
        for op in [
            "isnan_.",
            "maximum_.",
            "add.",
            "add.Tensor_out",
            "eq.out",
            "square.",
        ] {
            assert!(
                !all.iter().any(|s| s == op),
                "{op} is not an aten op this guest runs"
            );
        }
        for op in &all {
            assert_eq!(op.matches('.').count(), 1, "{op}");
            assert!(!op.starts_with('.'), "{op}");
        }
    }

    /// Every listed op reaches its handler, which refuses an empty argument list.
    #[test]
    fn every_listed_op_is_dispatched() {
        for (name, overload) in supported() {
            let (res, fake) = run(&name, &overload, vec![]);
            let e = res.expect_err(&format!("{name}.{overload} ran without arguments"));
            assert_eq!(
                e.kind,
                ErrorKind::InvalidArgument,
                "{name}.{overload}: {e:?}"
            );
            assert!(fake.calls.is_empty(), "{name}.{overload}");
        }
    }

    #[test]
    fn unknown_ops_are_not_implemented() {
        for (name, overload) in [
            ("cummax", ""),
            ("add", "Tensor_out"),
            ("square", ""),
            ("", ""),
        ] {
            let (res, _) = run(name, overload, vec![]);
            let e = res.unwrap_err();
            assert_eq!(e.kind, ErrorKind::NotImplemented, "{name}.{overload}");
            assert!(
                e.message.contains("TORCH_REMOTE_CPU_FALLBACK=1"),
                "{}",
                e.message
            );
        }
    }

    fn odd_tensors() -> Vec<TensorMeta> {
        let mut ragged = f32s(&[2, 3], 1);
        ragged.strides = vec![1];
        let mut negative = f32s(&[3], 2);
        negative.strides = vec![-1];
        let mut huge = f32s(&[1, 4], 3);
        huge.sizes[0] = i64::MAX / 2;
        let mut far = f32s(&[3], 4);
        far.storage_offset = i64::MAX - 1;
        let mut expanded = f32s(&[3, 4], 5);
        expanded.strides = vec![0, 1];
        vec![
            f32s(&[2, 3], 6),
            f32s(&[], 7),
            f32s(&[0, 3], 8),
            tensor(&[3], ScalarType::Int64, 9),
            tensor(&[2, 3], ScalarType::Bool, 10),
            tensor(&[3, 2, 1, 2], ScalarType::Float16, 11),
            ragged,
            negative,
            huge,
            far,
            expanded,
            TensorMeta {
                sizes: vec![-1, 3],
                ..f32s(&[1, 3], 12)
            },
        ]
    }

    fn odd_args(t: &TensorMeta) -> Vec<Arg> {
        vec![
            arg(t),
            Arg::None,
            Arg::Integer(-1),
            Arg::Integer(i64::MAX),
            Arg::Integer(i64::MIN),
            Arg::Float(f64::NAN),
            Arg::Boolean(true),
            Arg::IntList(vec![-1, i64::MAX]),
            Arg::IntList(vec![]),
            Arg::Scalar(Scalar::Float(1.5)),
            Arg::Dtype(ScalarType::Float16),
            Arg::Str("remote:0".into()),
            Arg::OptionalTensor(None),
            Arg::TensorList(vec![t.clone()]),
        ]
    }

    /// No argument list, however wrong, may panic the guest.
    #[test]
    fn odd_arguments_never_panic() {
        let tensors = odd_tensors();
        for (name, overload) in supported() {
            for t in &tensors {
                let pool = odd_args(t);
                for len in 0..9 {
                    for shift in 0..pool.len() {
                        let args: Vec<Arg> = (0..len)
                            .map(|i| pool[(i * 7 + shift) % pool.len()].clone())
                            .collect();
                        let _ = run(&name, &overload, args);
                    }
                    let same: Vec<Arg> = (0..len).map(|_| arg(t)).collect();
                    let _ = run(&name, &overload, same);
                }
            }
        }
    }
}
