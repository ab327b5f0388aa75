//! Dtype rules: item sizes, categories, `promote_types`, `result_type` and `can_cast`.

use std::cell::Cell;

use crate::error::{ensure, ensure_kernel, Result};
use crate::rules::shape::fmt_shape;
use crate::types::{Scalar, ScalarType, TensorMeta};

thread_local! {
    static DEFAULT_FLOAT: Cell<ScalarType> = const { Cell::new(ScalarType::Float32) };
}

/// `torch.get_default_dtype()` for the op being run: what factories make and what Python
/// floats become when they meet integer tensors. Global in PyTorch too; set per op.
pub fn default_float() -> ScalarType {
    DEFAULT_FLOAT.with(Cell::get)
}

pub fn set_default_float(dtype: ScalarType) {
    DEFAULT_FLOAT.with(|d| d.set(dtype));
}

/// TensorIterator's check where every operand must have one dtype, `expected`.
/// The CPU's refusal of an output of dtype `to` for a result of dtype `from` it cannot be
/// safely cast to.
pub fn check_can_cast(from: ScalarType, to: ScalarType) -> Result<()> {
    ensure!(
        can_cast(from, to),
        "result type {} can't be cast to the desired output type {}",
        from.name(),
        to.name()
    );
    Ok(())
}

pub fn check_same_dtype(expected: ScalarType, tensors: &[&TensorMeta]) -> Result<()> {
    for t in tensors {
        ensure!(
            t.dtype == expected,
            "Found dtype {} but expected {}",
            t.dtype.name(),
            expected.name()
        );
    }
    Ok(())
}

impl ScalarType {
    pub fn itemsize(self) -> i64 {
        match self {
            ScalarType::Uint8 | ScalarType::Int8 | ScalarType::Bool => 1,
            ScalarType::Int16 | ScalarType::Float16 | ScalarType::Bfloat16 => 2,
            ScalarType::Int32 | ScalarType::Float32 => 4,
            ScalarType::Int64 | ScalarType::Float64 | ScalarType::Complex64 => 8,
            ScalarType::Complex128 => 16,
        }
    }

    pub fn is_complex(self) -> bool {
        matches!(self, ScalarType::Complex64 | ScalarType::Complex128)
    }

    /// c10's `opmath_type`: the dtype a kernel computes in, float for the half types.
    pub fn op_math(self) -> ScalarType {
        match self {
            ScalarType::Float16 | ScalarType::Bfloat16 => ScalarType::Float32,
            other => other,
        }
    }

    /// The lowest and the largest finite value (`std::numeric_limits`' `lowest` and `max`) of
    /// a real dtype, or of a complex one's parts.
    pub fn limits(self) -> (f64, f64) {
        let max = match self.real_part() {
            ScalarType::Bool => return (0.0, 1.0),
            ScalarType::Uint8 => return (0.0, 255.0),
            ScalarType::Int8 => i8::MAX.into(),
            ScalarType::Int16 => i16::MAX.into(),
            ScalarType::Int32 => i32::MAX.into(),
            ScalarType::Int64 => i64::MAX as f64,
            ScalarType::Float16 => 65504.0,
            ScalarType::Bfloat16 => 3.389_531_389_251_535_5e38,
            ScalarType::Float32 => f32::MAX.into(),
            _ => f64::MAX,
        };
        let lowest = if self.is_integral(false) {
            -max - 1.0
        } else {
            -max
        };
        (lowest, max)
    }

    /// `value` as C++'s `static_cast` to this floating dtype (or a complex one's parts) bounds
    /// it: past the largest finite value it rounds to that value or to an infinity, as
    /// rounding to nearest does. A value within range is rounded to float (for the types
    /// below float) and left to the kernel to round further.
    pub fn cast_float(self, value: f64) -> f64 {
        let real = self.real_part();
        if real == ScalarType::Float64 || !value.is_finite() {
            return value;
        }
        // Half and bfloat16 convert through float, as c10's do.
        let value = f64::from(value as f32);
        let max = self.limits().1;
        // Half of the last finite value's ulp: nearer than that to `max`, it rounds to `max`.
        let half_ulp = match real {
            ScalarType::Float16 => 16.0,
            ScalarType::Bfloat16 => 2f64.powi(119),
            _ => return value,
        };
        if value.abs() <= max {
            value
        } else if value.abs() < max + half_ulp {
            max.copysign(value)
        } else {
            f64::INFINITY.copysign(value)
        }
    }

    /// The legacy type of a CPU tensor of this dtype (`torch.FloatTensor`), as PyTorch's
    /// messages name a tensor's type; dtypes younger than those types are `CPUBoolType`.
    pub fn legacy_type(self) -> String {
        match self {
            ScalarType::Bool
            | ScalarType::Bfloat16
            | ScalarType::Complex64
            | ScalarType::Complex128 => format!("CPU{}Type", self.name()),
            _ => format!("torch.{}Tensor", self.name()),
        }
    }

    /// The real dtype of a complex one's parts (c10's `toRealValueType`); others are their own.
    pub fn real_part(self) -> ScalarType {
        match self {
            ScalarType::Complex64 => ScalarType::Float32,
            ScalarType::Complex128 => ScalarType::Float64,
            t => t,
        }
    }

    /// The complex dtype with parts of this floating dtype (c10's `toComplexType`).
    pub fn complex_of(self) -> Option<ScalarType> {
        match self {
            ScalarType::Float16 | ScalarType::Bfloat16 | ScalarType::Float32 => {
                Some(ScalarType::Complex64)
            }
            ScalarType::Float64 => Some(ScalarType::Complex128),
            ScalarType::Complex64 | ScalarType::Complex128 => Some(self),
            _ => None,
        }
    }

    /// PyTorch's type categories in promotion order: bool, integral, floating, complex.
    fn category(self) -> u8 {
        match self {
            ScalarType::Bool => 0,
            t if t.is_complex() => 3,
            t if t.is_floating() => 2,
            _ => 1,
        }
    }

    pub fn is_floating(self) -> bool {
        matches!(
            self,
            ScalarType::Float16 | ScalarType::Float32 | ScalarType::Float64 | ScalarType::Bfloat16
        )
    }

    /// Integral types, optionally counting `bool` as one (c10's `isIntegralType`).
    pub fn is_integral(self, include_bool: bool) -> bool {
        match self {
            ScalarType::Bool => include_bool,
            t => !t.is_floating() && !t.is_complex(),
        }
    }

    /// The element type's C++ name as a `caffe2::TypeMeta` prints it ("long int"), which
    /// PyTorch's `out=` dtype checks name.
    pub fn type_meta_name(self) -> &'static str {
        match self {
            ScalarType::Uint8 => "unsigned char",
            ScalarType::Int8 => "signed char",
            ScalarType::Int16 => "short int",
            ScalarType::Int64 => "long int",
            other => cpp_name(other),
        }
    }

    /// The c10 name, as PyTorch's messages print it.
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Uint8 => "Byte",
            ScalarType::Int8 => "Char",
            ScalarType::Int16 => "Short",
            ScalarType::Int32 => "Int",
            ScalarType::Int64 => "Long",
            ScalarType::Float16 => "Half",
            ScalarType::Float32 => "Float",
            ScalarType::Float64 => "Double",
            ScalarType::Bool => "Bool",
            ScalarType::Bfloat16 => "BFloat16",
            ScalarType::Complex64 => "ComplexFloat",
            ScalarType::Complex128 => "ComplexDouble",
        }
    }
}

/// The C++ type a kernel of `dtype` computes in, as libtorch's conversion errors name it.
fn cpp_name(dtype: ScalarType) -> &'static str {
    match dtype {
        ScalarType::Uint8 => "uint8_t",
        ScalarType::Int8 => "int8_t",
        ScalarType::Int16 => "int16_t",
        ScalarType::Int32 => "int",
        ScalarType::Int64 => "int64_t",
        ScalarType::Float16 => "c10::Half",
        ScalarType::Float32 => "float",
        ScalarType::Float64 => "double",
        ScalarType::Bool => "bool",
        ScalarType::Bfloat16 => "c10::BFloat16",
        ScalarType::Complex64 => "c10::complex<float>",
        ScalarType::Complex128 => "c10::complex<double>",
    }
}

/// A Python number as a kernel of `dtype` takes it: a complex one reaches a real kernel as
/// its real part, and only when its imaginary part is 0.
pub fn number_for(s: Scalar, dtype: ScalarType) -> Result<Scalar> {
    match s {
        // A bool takes whether the number is nonzero, imaginary part included.
        Scalar::Complex((re, im)) if dtype == ScalarType::Bool => {
            Ok(Scalar::Boolean(re != 0.0 || im != 0.0))
        }
        Scalar::Complex((re, im)) if !dtype.is_complex() => {
            ensure!(
                im == 0.0,
                "value cannot be converted to type {} without overflow",
                cpp_name(dtype)
            );
            Ok(Scalar::Float(re))
        }
        other => Ok(other),
    }
}

/// A Python number as a kernel of `dtype` takes it where PyTorch converts it with
/// `checked_convert` (`fill_`, `clamp`, `alpha`, ...): a value out of `dtype`'s range is an
/// error there, while a wrapped number in arithmetic wraps around.
pub fn checked_number(s: Scalar, dtype: ScalarType) -> Result<Scalar> {
    ensure!(
        !overflows(s, dtype),
        "value cannot be converted to type {} without overflow",
        cpp_name(dtype)
    );
    number_for(s, dtype)
}

/// The number `fill_` stores in a tensor of one element: the CPU converts it into float16
/// or bfloat16 there without `checked_convert`, so a value past the largest finite one rounds
/// (through float, to nearest even) to it or to infinity rather than failing.
pub fn one_element_value(s: Scalar, dtype: ScalarType) -> Scalar {
    let v = match s {
        Scalar::Float(v) => v,
        Scalar::Integer(v) => v as f64,
        other => return other,
    };
    let (_, max) = dtype.limits();
    let half = matches!(dtype, ScalarType::Float16 | ScalarType::Bfloat16);
    if !half || !v.is_finite() || v.abs() <= max {
        return s;
    }
    // Halfway between the largest finite value and the next power of two: a tie, which goes
    // to the even neighbour, infinity.
    let halfway = if dtype == ScalarType::Float16 {
        65520.0
    } else {
        f64::from(f32::from_bits(0x7f7f_8000))
    };
    let rounded = f64::from(v as f32).abs();
    let magnitude = if rounded >= halfway {
        f64::INFINITY
    } else {
        max
    };
    Scalar::Float(magnitude.copysign(v))
}

/// c10's `overflows<To, From>`: any value fits a bool; an unsigned integer also takes the
/// negatives of what it holds (two's complement); infinities fit floating types, NaN does
/// not fit integers; a complex value fits a real type only with no imaginary part.
fn overflows(s: Scalar, to: ScalarType) -> bool {
    if to == ScalarType::Bool {
        return false;
    }
    match s {
        Scalar::Boolean(_) => false,
        Scalar::Integer(v) => integer_overflows(v, to),
        Scalar::Float(v) => float_overflows(v, to),
        Scalar::Complex((re, im)) => {
            (!to.is_complex() && im != 0.0) || float_overflows(re, to) || float_overflows(im, to)
        }
    }
}

fn integer_overflows(v: i64, to: ScalarType) -> bool {
    if !to.is_integral(false) {
        return float_overflows(v as f64, to);
    }
    let (lowest, max) = to.limits();
    let (lowest, max) = (lowest as i128, max as i128);
    let v = i128::from(v);
    if to == ScalarType::Uint8 {
        return v > max || -v > max;
    }
    v < lowest || v > max
}

fn float_overflows(v: f64, to: ScalarType) -> bool {
    let integral = to.is_integral(false);
    if v.is_infinite() && !integral {
        return false;
    }
    if v.is_nan() {
        return integral;
    }
    let (lowest, max) = to.limits();
    v < lowest || v > max
}

/// The dtype of a Python number before wrapping (`int` -> Long, `float` -> Double).
pub fn scalar_dtype(s: Scalar) -> ScalarType {
    match s {
        Scalar::Integer(_) => ScalarType::Int64,
        Scalar::Float(_) => ScalarType::Float64,
        Scalar::Boolean(_) => ScalarType::Bool,
        Scalar::Complex(_) => ScalarType::Complex128,
    }
}

/// `torch.promote_types`.
pub fn promote(a: ScalarType, b: ScalarType) -> ScalarType {
    use ScalarType::*;
    if a == b {
        return a;
    }
    if a.is_complex() || b.is_complex() {
        // The wider of the two parts' dtypes, as a complex dtype.
        let parts = promote(a.real_part(), b.real_part());
        return parts.complex_of().unwrap_or(Complex64);
    }
    match (a, b) {
        (Bool, x) | (x, Bool) => x,
        (Float16, Bfloat16) | (Bfloat16, Float16) => Float32,
        _ if a.is_floating() != b.is_floating() => {
            if a.is_floating() {
                a
            } else {
                b
            }
        }
        // Uint8 and a signed type need a signed type wide enough for both.
        (Uint8, Int8) | (Int8, Uint8) => Int16,
        (Uint8, x) | (x, Uint8) => x,
        _ if a.itemsize() >= b.itemsize() => a,
        _ => b,
    }
}

/// `c10::canCast`: whether a result of dtype `from` may be written to an output of `to`.
pub fn can_cast(from: ScalarType, to: ScalarType) -> bool {
    if from.is_complex() && !to.is_complex() {
        return false;
    }
    if from.is_floating() && to.is_integral(false) {
        return false;
    }
    !(from != ScalarType::Bool && to == ScalarType::Bool)
}
/// The check of a kernel that reads a tensor as the dtype it expects (`data_ptr<T>`).
pub fn check_scalar_type(expected: ScalarType, found: ScalarType) -> Result<()> {
    ensure!(
        expected == found,
        "expected scalar type {} but found {}",
        expected.name(),
        found.name()
    );
    Ok(())
}

/// Checks that every tensor of a fused layer op (`op`) has the first's dtype, a floating one.
/// The CPU's `NotImplementedError` where `kernel` has no bool version.
pub fn check_not_bool(dtype: ScalarType, kernel: &str) -> Result<()> {
    ensure_kernel!(
        dtype != ScalarType::Bool,
        "\"{kernel}\" not implemented for 'Bool'"
    );
    Ok(())
}

pub fn check_floating_alike(op: &str, tensors: &[&TensorMeta]) -> Result<()> {
    let Some(first) = tensors.first() else {
        return Ok(());
    };
    ensure_kernel!(
        first.dtype.is_floating(),
        "\"{op}\" not implemented for '{}'",
        first.dtype.name()
    );
    for t in tensors {
        ensure!(
            t.dtype == first.dtype,
            "{op}: expected scalar type {} but found {} (shape {})",
            first.dtype.name(),
            t.dtype.name(),
            fmt_shape(&t.sizes)
        );
    }
    Ok(())
}

/// `at::native::ResultTypeState`: dimensioned tensors, 0-dim tensors and wrapped numbers
/// are promoted separately, and a lower group only matters when it is of a higher category.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResultType {
    dim: Option<ScalarType>,
    zero_dim: Option<ScalarType>,
    wrapped: Option<ScalarType>,
}

impl ResultType {
    pub fn tensor(&mut self, dtype: ScalarType, ndim: usize) {
        let slot = if ndim > 0 {
            &mut self.dim
        } else {
            &mut self.zero_dim
        };
        *slot = Some(promote_skip_none(*slot, dtype));
    }

    pub fn number(&mut self, s: Scalar) {
        let dtype = match scalar_dtype(s) {
            t if t.is_floating() => default_float(),
            t if t.is_complex() => default_float().complex_of().unwrap_or(t),
            t => t,
        };
        self.wrapped = Some(promote_skip_none(self.wrapped, dtype));
    }

    /// The result; `None` only when nothing was added.
    pub fn result(&self) -> Option<ScalarType> {
        combine(self.dim, combine(self.zero_dim, self.wrapped))
    }
}

fn promote_skip_none(a: Option<ScalarType>, b: ScalarType) -> ScalarType {
    a.map_or(b, |a| promote(a, b))
}

fn combine(higher: Option<ScalarType>, lower: Option<ScalarType>) -> Option<ScalarType> {
    let (Some(h), Some(l)) = (higher, lower) else {
        return higher.or(lower);
    };
    if h.category() >= l.category() {
        return Some(h);
    }
    if h.is_floating() && l.is_complex() {
        // A complex tensor of a lower group keeps the higher group's float width.
        return h.complex_of();
    }
    Some(promote(h, l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScalarType::*;

    #[test]
    fn one_element_fills_round_past_the_largest_half_value() {
        let one = |v: f64, dtype| match one_element_value(Scalar::Float(v), dtype) {
            Scalar::Float(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(one(1e39, Bfloat16), f64::INFINITY);
        assert_eq!(one(-3.4028e38, Bfloat16), f64::NEG_INFINITY);
        assert_eq!(one(65510.0, Float16), 65504.0);
        assert_eq!(one(-65520.0, Float16), f64::NEG_INFINITY);
        assert_eq!(one(1e39, Float32), 1e39);
        assert_eq!(one(2.5, Float16), 2.5);
    }

    #[test]
    fn checked_numbers_follow_c10_overflows() {
        let fits = |s, t| checked_number(s, t).is_ok();
        assert!(fits(Scalar::Integer(-255), Uint8) && !fits(Scalar::Integer(-256), Uint8));
        assert!(fits(Scalar::Integer(255), Uint8) && !fits(Scalar::Integer(256), Uint8));
        assert!(!fits(Scalar::Float(-1.0), Uint8) && !fits(Scalar::Float(255.5), Uint8));
        assert!(fits(Scalar::Integer(-128), Int8) && !fits(Scalar::Integer(128), Int8));
        assert!(fits(Scalar::Integer(i64::MAX), Int64) && fits(Scalar::Integer(2), Bool));
        assert!(!fits(Scalar::Float(f64::NAN), Int32) && fits(Scalar::Float(f64::NAN), Float16));
        assert!(!fits(Scalar::Float(f64::INFINITY), Int32));
        assert!(
            fits(Scalar::Float(f64::INFINITY), Float32) && !fits(Scalar::Float(1e300), Float32)
        );
        assert!(fits(Scalar::Float(65504.0), Float16) && !fits(Scalar::Integer(70000), Float16));
        assert!(!fits(Scalar::Complex((1.0, 1.0)), Float32));
        assert_eq!(
            checked_number(Scalar::Complex((1.0, 0.0)), Float32).ok(),
            Some(Scalar::Float(1.0))
        );
        let message = checked_number(Scalar::Integer(300), Uint8)
            .unwrap_err()
            .message;
        assert!(message.contains("value cannot be converted to type uint8_t without overflow"));
    }

    const ALL: [ScalarType; 10] = [
        Uint8, Int8, Int16, Int32, Int64, Float16, Float32, Float64, Bool, Bfloat16,
    ];

    /// `torch.promote_types` over the table above, printed by torch 2.13.
    const TABLE: [[ScalarType; 10]; 10] = [
        [
            Uint8, Int16, Int16, Int32, Int64, Float16, Float32, Float64, Uint8, Bfloat16,
        ],
        [
            Int16, Int8, Int16, Int32, Int64, Float16, Float32, Float64, Int8, Bfloat16,
        ],
        [
            Int16, Int16, Int16, Int32, Int64, Float16, Float32, Float64, Int16, Bfloat16,
        ],
        [
            Int32, Int32, Int32, Int32, Int64, Float16, Float32, Float64, Int32, Bfloat16,
        ],
        [
            Int64, Int64, Int64, Int64, Int64, Float16, Float32, Float64, Int64, Bfloat16,
        ],
        [
            Float16, Float16, Float16, Float16, Float16, Float16, Float32, Float64, Float16,
            Float32,
        ],
        [
            Float32, Float32, Float32, Float32, Float32, Float32, Float32, Float64, Float32,
            Float32,
        ],
        [
            Float64, Float64, Float64, Float64, Float64, Float64, Float64, Float64, Float64,
            Float64,
        ],
        [
            Uint8, Int8, Int16, Int32, Int64, Float16, Float32, Float64, Bool, Bfloat16,
        ],
        [
            Bfloat16, Bfloat16, Bfloat16, Bfloat16, Bfloat16, Float32, Float32, Float64, Bfloat16,
            Bfloat16,
        ],
    ];

    #[test]
    fn promote_matches_torch_table() {
        for (i, a) in ALL.iter().enumerate() {
            for (j, b) in ALL.iter().enumerate() {
                assert_eq!(promote(*a, *b), TABLE[i][j], "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn can_cast_samples() {
        assert!(!can_cast(Float32, Int64));
        assert!(can_cast(Int64, Float16));
        assert!(!can_cast(Int32, Bool));
        assert!(can_cast(Bool, Uint8));
        assert!(can_cast(Float64, Float16));
        assert!(can_cast(Float64, Bfloat16));
    }

    fn rt(tensors: &[(ScalarType, usize)], numbers: &[Scalar]) -> ScalarType {
        let mut state = ResultType::default();
        for (dtype, ndim) in tensors {
            state.tensor(*dtype, *ndim);
        }
        for n in numbers {
            state.number(*n);
        }
        state.result().unwrap()
    }

    /// Samples of `torch.result_type` checked with torch 2.13.
    #[test]
    fn result_type_categories() {
        // int tensor + python float -> default dtype
        assert_eq!(rt(&[(Int64, 1)], &[Scalar::Float(1.5)]), Float32);
        // half tensor + python float stays half
        assert_eq!(rt(&[(Float16, 1)], &[Scalar::Float(1.5)]), Float16);
        // uint8 tensor + python int stays uint8
        assert_eq!(rt(&[(Uint8, 2)], &[Scalar::Integer(1000)]), Uint8);
        // bool tensor + python int -> Long
        assert_eq!(rt(&[(Bool, 1)], &[Scalar::Integer(1)]), Int64);
        // 0-dim double with dimensioned float: same category, dimensioned wins
        assert_eq!(rt(&[(Float32, 1), (Float64, 0)], &[]), Float32);
        // 0-dim float with dimensioned int: higher category wins
        assert_eq!(rt(&[(Int32, 1), (Float64, 0)], &[]), Float64);
        // 0-dim int64 with dimensioned int8 stays int8
        assert_eq!(rt(&[(Int8, 1), (Int64, 0)], &[]), Int8);
        // two 0-dim tensors promote normally
        assert_eq!(rt(&[(Int8, 0), (Int64, 0)], &[]), Int64);
        // 0-dim int with python float -> default dtype
        assert_eq!(rt(&[(Int32, 0)], &[Scalar::Float(2.0)]), Float32);
        // python int and python float alone
        assert_eq!(rt(&[], &[Scalar::Integer(1), Scalar::Float(2.0)]), Float32);
        // bool 0-dim with dimensioned bool and python int -> Long
        assert_eq!(rt(&[(Bool, 1), (Bool, 0)], &[Scalar::Integer(2)]), Int64);
        // 0-dim bfloat16 with dimensioned half: same category, half wins
        assert_eq!(rt(&[(Float16, 3), (Bfloat16, 0)], &[]), Float16);
        // 0-dim complex128 with dimensioned float: complex of the float's width
        assert_eq!(rt(&[(Float32, 1), (Complex128, 0)], &[]), Complex64);
        assert_eq!(rt(&[(Float64, 1), (Complex64, 0)], &[]), Complex128);
        // complex tensor with python float or int stays complex
        assert_eq!(rt(&[(Complex64, 2)], &[Scalar::Float(0.5)]), Complex64);
        assert_eq!(rt(&[(Int64, 1), (Complex64, 0)], &[]), Complex64);
    }

    /// `torch.promote_types` with complex dtypes, printed by torch 2.13.
    #[test]
    fn complex_promotion_keeps_the_wider_parts() {
        assert_eq!(promote(Complex64, Float64), Complex128);
        assert_eq!(promote(Float16, Complex64), Complex64);
        assert_eq!(promote(Bfloat16, Complex64), Complex64);
        assert_eq!(promote(Int64, Complex64), Complex64);
        assert_eq!(promote(Bool, Complex128), Complex128);
        assert_eq!(promote(Complex64, Complex128), Complex128);
        assert!(!can_cast(Complex64, Float64));
        assert!(can_cast(Float64, Complex64));
    }
}
