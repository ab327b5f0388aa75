//! The table's entries for elementwise ops: unary and binary math (with `torch.special`'s),
//! comparisons, ternary ops, activations and their backwards, and clamps.

use super::*;

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

pub(super) const UNARY: &[[Entry; 3]] = &[
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
pub(super) const UNARY_FUNCTIONAL: &[[Entry; 2]] = &[
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

pub(super) const BINARY_ELEMENTWISE: &[[Entry; 3]] = &[
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

pub(super) const SPECIAL_BINARY: &[[Entry; 2]] = &[
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

pub(super) const BINARY: &[Entry] = &[
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

pub(super) const TERNARY: &[Entry] = &[
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

pub(super) const ACTIVATION: &[[Entry; 3]] = &[
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

pub(super) const ACTIVATION_BACKWARD: &[[Entry; 2]] = &[
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

pub(super) const CLAMP: &[Entry] = &[
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
