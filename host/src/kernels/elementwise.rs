//! The libtorch calls of the elementwise and reduction kernels (`unary`, `binary`,
//! `reduce`), and when a binary op may write straight over its first operand.

use tch::{Kind, Tensor};

use crate::guest::{BinaryOp, Operand, ReduceOp, TensorMeta, UnaryOp};
use crate::storage::kind_of;

pub fn unary_result(op: UnaryOp, x: &Tensor) -> Result<Tensor, tch::TchError> {
    match op {
        UnaryOp::Neg => x.f_neg(),
        UnaryOp::Exp => x.f_exp(),
        UnaryOp::Log => x.f_log(),
        UnaryOp::Sqrt => x.f_sqrt(),
        UnaryOp::Rsqrt => x.f_rsqrt(),
        UnaryOp::Abs => x.f_abs(),
        UnaryOp::Conj => x.f_conj_physical(),
        UnaryOp::Relu => x.f_relu(),
        UnaryOp::Sigmoid => x.f_sigmoid(),
        UnaryOp::Tanh => x.f_tanh(),
        UnaryOp::Sin => x.f_sin(),
        UnaryOp::Cos => x.f_cos(),
        UnaryOp::Ceil => x.f_ceil(),
        UnaryOp::Floor => x.f_floor(),
        UnaryOp::Round => x.f_round(),
        UnaryOp::Trunc => x.f_trunc(),
        UnaryOp::Sign if matches!(x.kind(), Kind::ComplexFloat | Kind::ComplexDouble) => x.f_sgn(),
        UnaryOp::Sign => x.f_sign(),
        UnaryOp::Reciprocal => x.f_reciprocal(),
        UnaryOp::LogicalNot => x.f_logical_not(),
        UnaryOp::BitwiseNot => x.f_bitwise_not(),
        UnaryOp::Isnan => x.f_isnan(),
        UnaryOp::Isneginf => x.f_isneginf(),
        UnaryOp::Isposinf => x.f_isposinf(),
        UnaryOp::Erf => x.f_erf(),
        UnaryOp::Log1p => x.f_log1p(),
        UnaryOp::Expm1 => x.f_expm1(),
        UnaryOp::Square => x.f_square(),
        UnaryOp::Tan => x.f_tan(),
        UnaryOp::Asin => x.f_asin(),
        UnaryOp::Acos => x.f_acos(),
        UnaryOp::Atan => x.f_atan(),
        UnaryOp::Sinh => x.f_sinh(),
        UnaryOp::Cosh => x.f_cosh(),
        UnaryOp::Asinh => x.f_asinh(),
        UnaryOp::Acosh => x.f_acosh(),
        UnaryOp::Atanh => x.f_atanh(),
        UnaryOp::Log2 => x.f_log2(),
        UnaryOp::Log10 => x.f_log10(),
        UnaryOp::Exp2 => x.f_exp2(),
        UnaryOp::Erfc => x.f_erfc(),
        UnaryOp::Erfinv => x.f_erfinv(),
        UnaryOp::Lgamma => x.f_lgamma(),
        UnaryOp::Digamma => x.f_digamma(),
        UnaryOp::Logit => x.f_logit(None),
        UnaryOp::Sinc => x.f_sinc(),
        UnaryOp::I0 => x.f_i0(),
        UnaryOp::Erfcx => x.f_special_erfcx(),
        UnaryOp::I0e => x.f_special_i0e(),
        UnaryOp::I1 => x.f_special_i1(),
        UnaryOp::I1e => x.f_special_i1e(),
        UnaryOp::Ndtr => x.f_special_ndtr(),
        UnaryOp::Ndtri => x.f_special_ndtri(),
        UnaryOp::LogNdtr => x.f_special_log_ndtr(),
        UnaryOp::Angle => x.f_angle(),
        UnaryOp::Frac => x.f_frac(),
        UnaryOp::Signbit => x.f_signbit(),
        UnaryOp::Entr => x.f_special_entr(),
        UnaryOp::BesselJ0 => x.f_special_bessel_j0(),
        UnaryOp::BesselJ1 => x.f_special_bessel_j1(),
        UnaryOp::BesselY0 => x.f_special_bessel_y0(),
        UnaryOp::BesselY1 => x.f_special_bessel_y1(),
        UnaryOp::ModifiedBesselI0 => x.f_special_modified_bessel_i0(),
        UnaryOp::ModifiedBesselI1 => x.f_special_modified_bessel_i1(),
        UnaryOp::ModifiedBesselK0 => x.f_special_modified_bessel_k0(),
        UnaryOp::ModifiedBesselK1 => x.f_special_modified_bessel_k1(),
        UnaryOp::ScaledModifiedBesselK0 => Tensor::f_special_scaled_modified_bessel_k0(x),
        UnaryOp::ScaledModifiedBesselK1 => Tensor::f_special_scaled_modified_bessel_k1(x),
        UnaryOp::SphericalBesselJ0 => Tensor::f_special_spherical_bessel_j0(x),
        UnaryOp::AiryAi => Tensor::f_special_airy_ai(x),
    }
}

/// Whether an op writes its result over its first operand, computed in its own dtype, and
/// each other operand shares no memory with it unless it is the same view: then the result
/// can go straight into that memory, as PyTorch's in-place kernels do.
pub fn writes_self(out: &TensorMeta, compute: Kind, first: &Operand, others: &[&Operand]) -> bool {
    let apart = |operand: &&Operand| match operand {
        Operand::Tensor(t) => t.storage != out.storage || t == out,
        Operand::Number(_) => true,
    };
    matches!(first, Operand::Tensor(a) if a == out)
        && kind_of(out.dtype) == compute
        && others.iter().all(apart)
}

/// `a op= b` in `a`'s memory, for the ops libtorch has in-place kernels of.
pub fn binary_in_place(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
) -> Option<Result<Tensor, tch::TchError>> {
    let mut a = a.shallow_clone();
    Some(match op {
        BinaryOp::Add => a.f_add_(b),
        BinaryOp::Sub => a.f_sub_(b),
        BinaryOp::Mul => a.f_mul_(b),
        BinaryOp::Div => a.f_div_(b),
        _ => return None,
    })
}

/// `a / b` rounded toward zero in `kind`. For 32- and 64-bit integers `INT_MIN / -1` wraps to
/// `INT_MIN`: libtorch's CPU kernel divides it as the machine does, which raises SIGFPE and
/// ends the host (narrower integers divide as `int`, which cannot overflow).
fn div_trunc(a: &Tensor, b: &Tensor, kind: Kind) -> Result<Tensor, tch::TchError> {
    if !matches!(kind, Kind::Int | Kind::Int64) {
        return a.f_div_tensor_mode(b, "trunc");
    }
    let (a, b) = (a.f_to_kind(kind)?, b.f_to_kind(kind)?);
    let minus_one = b.f_eq(-1)?;
    let divisor = b.f_masked_fill(&minus_one, 1)?;
    let quotient = a.f_div_tensor_mode(&divisor, "trunc")?;
    a.f_neg()?.f_where_self(&minus_one, &quotient)
}

/// `a op b` of operands `binary_operands` made, with `kind` the compute dtype.
pub fn binary_result(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    kind: Kind,
) -> Result<Tensor, tch::TchError> {
    match op {
        BinaryOp::Add => a.f_add(b),
        BinaryOp::Sub => a.f_sub(b),
        BinaryOp::Mul => a.f_mul(b),
        BinaryOp::Div => a.f_div(b),
        BinaryOp::DivTrunc => div_trunc(a, b, kind),
        BinaryOp::DivFloor => a.f_div_tensor_mode(b, "floor"),
        BinaryOp::Remainder => a.f_remainder_tensor(b),
        BinaryOp::Pow => a.f_pow(b),
        BinaryOp::Maximum => a.f_maximum(b),
        BinaryOp::Minimum => a.f_minimum(b),
        BinaryOp::Eq => a.f_eq_tensor(b),
        BinaryOp::Ne => a.f_ne_tensor(b),
        BinaryOp::Lt => a.f_lt_tensor(b),
        BinaryOp::Le => a.f_le_tensor(b),
        BinaryOp::Gt => a.f_gt_tensor(b),
        BinaryOp::Fmod => a.f_fmod_tensor(b),
        BinaryOp::Hypot => a.f_hypot(b),
        BinaryOp::Xlogy => a.f_xlogy(b),
        BinaryOp::Logaddexp => a.f_logaddexp(b),
        BinaryOp::Logaddexp2 => a.f_logaddexp2(b),
        BinaryOp::Copysign => a.f_copysign(b),
        BinaryOp::Heaviside => a.f_heaviside(b),
        BinaryOp::Fmax => a.f_fmax(b),
        BinaryOp::Fmin => a.f_fmin(b),
        BinaryOp::LeftShift => a.f_bitwise_left_shift(b),
        BinaryOp::RightShift => a.f_bitwise_right_shift(b),
        BinaryOp::Gcd => a.f_gcd(b),
        BinaryOp::Lcm => a.f_lcm(b),
        BinaryOp::Xlog1py => a.f_special_xlog1py(b),
        BinaryOp::Zeta => a.f_special_zeta(b),
        BinaryOp::Igamma => a.f_igamma(b),
        BinaryOp::Igammac => a.f_igammac(b),
        BinaryOp::Nextafter => a.f_nextafter(b),
        BinaryOp::ChebyshevPolynomialT => Tensor::f_special_chebyshev_polynomial_t(a, b),
        BinaryOp::ChebyshevPolynomialU => Tensor::f_special_chebyshev_polynomial_u(a, b),
        BinaryOp::ChebyshevPolynomialV => Tensor::f_special_chebyshev_polynomial_v(a, b),
        BinaryOp::ChebyshevPolynomialW => Tensor::f_special_chebyshev_polynomial_w(a, b),
        BinaryOp::ShiftedChebyshevPolynomialT => {
            Tensor::f_special_shifted_chebyshev_polynomial_t(a, b)
        }
        BinaryOp::ShiftedChebyshevPolynomialU => {
            Tensor::f_special_shifted_chebyshev_polynomial_u(a, b)
        }
        BinaryOp::ShiftedChebyshevPolynomialV => {
            Tensor::f_special_shifted_chebyshev_polynomial_v(a, b)
        }
        BinaryOp::ShiftedChebyshevPolynomialW => {
            Tensor::f_special_shifted_chebyshev_polynomial_w(a, b)
        }
        BinaryOp::HermitePolynomialH => Tensor::f_special_hermite_polynomial_h(a, b),
        BinaryOp::HermitePolynomialHe => Tensor::f_special_hermite_polynomial_he(a, b),
        BinaryOp::LaguerrePolynomialL => Tensor::f_special_laguerre_polynomial_l(a, b),
        BinaryOp::LegendrePolynomialP => Tensor::f_special_legendre_polynomial_p(a, b),
        BinaryOp::Ge => a.f_ge_tensor(b),
        BinaryOp::LogicalAnd => a.f_logical_and(b),
        BinaryOp::LogicalOr => a.f_logical_or(b),
        BinaryOp::LogicalXor => a.f_logical_xor(b),
        BinaryOp::BitwiseAnd => a.f_bitwise_and_tensor(b),
        BinaryOp::BitwiseOr => a.f_bitwise_or_tensor(b),
        BinaryOp::BitwiseXor => a.f_bitwise_xor_tensor(b),
        BinaryOp::Atan2 => a.f_atan2(b),
        BinaryOp::ClampMin => a.f_clamp_min_tensor(b),
        BinaryOp::ClampMax => a.f_clamp_max_tensor(b),
    }
}

pub fn reduce_result(
    op: ReduceOp,
    x: &Tensor,
    dims: &[i64],
    keepdim: bool,
) -> Result<Tensor, tch::TchError> {
    // `x` comes in the compute dtype, which the result keeps: libtorch would sum bools (a
    // `sum(dtype=torch.bool)`) into int64.
    let kind = Some(x.kind());
    match op {
        ReduceOp::Sum => x.f_sum_dim_intlist(dims, keepdim, kind),
        ReduceOp::Nansum => x.f_nansum(dims, keepdim, kind),
        ReduceOp::Mean => x.f_mean_dim(dims, keepdim, None),
        ReduceOp::Amax => x.f_amax(dims, keepdim),
        ReduceOp::Amin => x.f_amin(dims, keepdim),
        ReduceOp::All => x.f_all_dims(dims, keepdim),
        ReduceOp::Any => x.f_any_dims(dims, keepdim),
        ReduceOp::Logsumexp => x.f_logsumexp(dims, keepdim),
        // Over every element, one product in libtorch's order (`prod()`); dim by dim rounds
        // between dims.
        ReduceOp::Prod if dims.is_empty() || dims.len() == x.dim() => {
            let product = x.f_prod(kind)?;
            match keepdim {
                true => product.f_reshape(vec![1; x.dim()]),
                false => Ok(product),
            }
        }
        ReduceOp::Prod => {
            let mut sorted = dims.to_vec();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            sorted.iter().try_fold(x.shallow_clone(), |acc, &d| {
                acc.f_prod_dim_int(d, keepdim, kind)
            })
        }
    }
}
