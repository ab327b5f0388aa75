//! Random in-place fills, sampling and dropout: `bernoulli_` (a float or a tensor of
//! probabilities), `random_` (all three forms), `poisson`, `_standard_gamma`,
//! `_sample_dirichlet`, `binomial`, `multinomial`, `randperm`, `native_dropout` and
//! `native_dropout_backward`.

use crate::error::{ensure, ensure_kernel, ensure_value, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::iter::Pointwise;
use crate::ops::library::launch;
use crate::ops::out::{output, resize_output, resize_quietly};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims::expand;
use crate::rules::dtype::{can_cast, check_scalar_type};
use crate::rules::overlap::check_internal;
use crate::rules::propagate::preserve_strides;
use crate::rules::shape::{broadcast, fmt_shape};
use crate::types::{
    ActivationOp, BinaryOp, LibraryOp, Operand, Output, RandomOp, SampleOp, Scalar, ScalarType,
    TensorMeta, TernaryOp,
};

/// `bernoulli_.Tensor(self, p, *, generator)`: each element 1 with the probability at its
/// place in `p` (broadcast to `self`), else 0, in `self`'s dtype.
pub fn bernoulli_tensor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (this, p) = (args.tensor(0)?, args.tensor(1)?);
    check_probabilities(p)?;
    let p = expand(p, &this.sizes)?;
    check_internal(this)?;
    cx.k.sample(SampleOp::Bernoulli, &[p], this)
        .map_err(failed("sample"))?;
    Ok(vec![Output::Argument(0)])
}

/// CPU's bernoulli kernels take floating probabilities only.
fn check_probabilities(p: &TensorMeta) -> Result<()> {
    ensure_kernel!(
        p.dtype.is_floating(),
        "\"bernoulli_tensor_cpu_p_\" not implemented for '{}'",
        p.dtype.name()
    );
    Ok(())
}

/// `bernoulli.out(self, *, generator=None, out)`: `out`, resized to `self`, is 1 with the
/// probability at each place of `self`, else 0.
pub fn bernoulli_out(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (p, given) = (args.tensor(0)?, args.tensor(2)?);
    check_probabilities(p)?;
    let (out, result) = resize_output(cx, 2, given, &p.sizes)?;
    check_internal(&out)?;
    cx.k.sample(SampleOp::Bernoulli, std::slice::from_ref(p), &out)
        .map_err(failed("sample"))?;
    Ok(vec![result])
}

/// `_standard_gamma_grad(self, output)`: a contiguous tensor of `self`'s sizes and dtype,
/// `output` broadcast to it.
pub fn standard_gamma_grad(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (x, samples) = (args.tensor(0)?, args.tensor(1)?);
    ensure_kernel!(
        matches!(x.dtype, ScalarType::Float32 | ScalarType::Float64),
        "\"_standard_gamma_grad_cpu\" not implemented for '{}'",
        x.dtype.name()
    );
    ensure!(
        samples.dtype == x.dtype,
        "_standard_gamma_grad: expected two {} floating tensors, got {} and {}",
        x.dtype.name(),
        x.dtype.name(),
        samples.dtype.name()
    );
    let samples = expand(samples, &x.sizes)?;
    let out = cx.empty_contiguous(&x.sizes, x.dtype)?;
    launch(
        cx,
        LibraryOp::StandardGammaGrad,
        &[x.clone(), samples],
        vec![out],
    )
}

/// `poisson(self, generator)`, `_standard_gamma(self, generator)` and
/// `_sample_dirichlet(self, generator)`: samples with parameters `self`, as a contiguous
/// tensor of its sizes and dtype.
pub fn sample(args: &Args, cx: &mut Ctx, op: SampleOp) -> Outputs {
    args.at_most(2)?;
    let param = args.tensor(0)?;
    let (kernel, half_too) = match op {
        SampleOp::Poisson => ("poisson_cpu", true),
        SampleOp::StandardGamma => ("gamma_cpu", false),
        _ => ("dirichlet", false),
    };
    let half = matches!(param.dtype, ScalarType::Float16 | ScalarType::Bfloat16);
    ensure_kernel!(
        param.dtype.is_floating() && (half_too || !half),
        "\"{kernel}\" not implemented for '{}'",
        param.dtype.name()
    );
    let out = cx.empty_contiguous(&param.sizes, param.dtype)?;
    cx.k.sample(op, std::slice::from_ref(param), &out)
        .map_err(failed("sample"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `binomial(count, prob, generator)`: the successes in `count` trials of probability `prob`
/// (broadcast together), in `count`'s dtype.
pub fn binomial(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let (count, prob) = (args.tensor(0)?, args.tensor(1)?);
    ensure_value!(
        count.dtype.is_floating(),
        "binomial only supports floating-point dtypes for count, got: {}",
        count.dtype.name()
    );
    ensure_kernel!(
        !matches!(count.dtype, ScalarType::Float16 | ScalarType::Bfloat16),
        "\"binomial_cpu\" not implemented for '{}'",
        count.dtype.name()
    );
    ensure!(
        prob.dtype == count.dtype,
        "Found dtype {} but expected {}",
        prob.dtype.name(),
        count.dtype.name()
    );
    let out = cx.empty_contiguous(&broadcast(&count.sizes, &prob.sizes)?, count.dtype)?;
    let params = [count.clone(), prob.clone()];
    cx.k.sample(SampleOp::Binomial, &params, &out)
        .map_err(failed("sample"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `multinomial(self, num_samples, replacement=False, *, generator=None)` and `.out`:
/// `num_samples` Long indices per row, drawn on the host (which checks the values).
pub fn multinomial(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(4 + form.out_len())?;
    let probs = args.tensor(0)?;
    let samples = args.int(1)?;
    let replacement = args.bool_or(2, false)?;
    ensure!(
        probs.dim() == 1 || probs.dim() == 2,
        "prob_dist must be 1 or 2 dim"
    );
    ensure!(
        probs.dtype.is_floating(),
        "multinomial only supports floating-point dtypes for input, got: {}",
        probs.dtype.name()
    );
    let dest = form.dest(args)?;
    if let Dest::Out(_, out) = dest {
        ensure!(
            out.dtype == ScalarType::Int64,
            "multinomial expects Long tensor out, got: {}",
            out.dtype.name()
        );
    }
    ensure!(samples > 0, "cannot sample n_sample <= 0 samples");
    let categories = probs.sizes[probs.dim() - 1];
    ensure!(
        replacement || samples <= categories,
        "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
    );
    ensure!(
        categories <= 1 << 24,
        "number of categories cannot exceed 2^24"
    );
    let mut shape = probs.sizes.clone();
    *shape.last_mut().expect("1 or 2 dims") = samples;
    // `multinomial_out` resizes its result with `resize_`: without `resize_output`'s warning.
    let (out, result) = match dest {
        Dest::Out(at, out) => resize_quietly(cx, at, out, &shape)?,
        dest => output(cx, dest, &shape, ScalarType::Int64)?,
    };
    cx.k.multinomial(probs, samples, replacement, &out)
        .map_err(failed("multinomial"))?;
    Ok(vec![result])
}

/// `randperm.out(n, *, out)` and `randperm.generator_out(n, *, generator, out)`, which every
/// `torch.randperm` reaches: `out` resized to `[n]`.
pub fn randperm(args: &Args, cx: &mut Ctx, with_generator: bool) -> Outputs {
    let at = if with_generator { 2 } else { 1 };
    args.at_most(at + 1)?;
    let n = args.int(0)?;
    ensure!(n >= 0, "n must be non-negative, got {n}");
    let out = args.tensor(at)?;
    check_permutable(n, out.dtype)?;
    // The CPU's `randperm_out` resizes `out` with `resize_`, which gives no warning.
    let (out, result) = resize_quietly(cx, at as u32, out, &[n])?;
    cx.k.permutation(&out).map_err(failed("permutation"))?;
    Ok(vec![result])
}

/// The CPU's randperm checks: a float dtype must hold every integer below `n` exactly, and
/// an integer dtype `n - 1`.
fn check_permutable(n: i64, dtype: ScalarType) -> Result<()> {
    use ScalarType::*;
    let float_limit = match dtype {
        Float16 => Some(("2049", 2049)),
        Float32 => Some(("2^24+1", (1 << 24) + 1)),
        Float64 => Some(("2^53+1", (1 << 53) + 1)),
        _ => None,
    };
    if let Some((text, limit)) = float_limit {
        ensure!(
            n <= limit,
            "n cannot be greater than {text} for {} type.",
            dtype.name()
        );
    }
    ensure_kernel!(
        !matches!(dtype, Bool | Complex64 | Complex128),
        "\"randperm\" not implemented for '{}'",
        dtype.name()
    );
    let integer_limit = match dtype {
        Uint8 => Some(("uint8_t", i64::from(u8::MAX))),
        Int8 => Some(("int8_t", i64::from(i8::MAX))),
        Int16 => Some(("int16_t", i64::from(i16::MAX))),
        Int32 => Some(("int", i64::from(i32::MAX))),
        _ => None,
    };
    if let Some((ctype, max)) = integer_limit {
        ensure!(
            n - 1 <= max,
            "value cannot be converted to type {ctype} without overflow"
        );
    }
    Ok(())
}

/// `bernoulli_.float(self, p=0.5, *, generator=None)`.
pub fn bernoulli(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let this = args.tensor(0)?;
    let p = args.float_or(1, 0.5)?;
    ensure!(
        (0.0..=1.0).contains(&p),
        "bernoulli_ expects p to be in [0, 1], but got p={p}"
    );
    check_internal(this)?;
    cx.k.random(RandomOp::Bernoulli, p, 0.0, this)
        .map_err(failed("random"))?;
    Ok(vec![Output::Argument(0)])
}

/// How `random_` was called: `random_(self)`, `random_.to(self, to)`, `random_.from(self,
/// from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Default,
    To,
    From,
}

pub fn random(args: &Args, cx: &mut Ctx, range: Range) -> Outputs {
    let this = args.tensor(0)?;
    let bounds = match range {
        Range::Default => {
            args.at_most(2)?;
            None
        }
        Range::To => {
            args.at_most(3)?;
            Some((0, Some(args.int(1)?)))
        }
        Range::From => {
            args.at_most(4)?;
            Some((args.int(1)?, args.opt_int(2)?))
        }
    };
    if let Some((from, Some(to))) = bounds {
        ensure!(
            from < to,
            "random_ expects 'from' to be less than 'to', but got from={from} >= to={to}"
        );
        let (lowest, max) = this.dtype.limits();
        for (value, what) in [(from, "from"), (to - 1, "to - 1")] {
            ensure!(
                (lowest..=max).contains(&(value as f64)),
                "{what} is out of bounds for {}",
                this.dtype.type_meta_name()
            );
        }
    }
    check_internal(this)?;
    cx.k.random_integers(bounds, this)
        .map_err(failed("random_integers"))?;
    Ok(vec![Output::Argument(0)])
}

/// `native_dropout(input, p, train)`: the result and the mask keep the input's layout.
pub fn dropout(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let x = args.tensor(0)?;
    let p = args.float_or(1, 0.5)?;
    let train = args.bool_or(2, true)?;
    if train {
        let keep = 1.0 - p;
        ensure!(
            (0.0..=1.0).contains(&keep),
            "bernoulli_ expects p to be in [0, 1], but got p={keep}"
        );
        ensure!(
            can_cast(ScalarType::Float32, x.dtype),
            "result type Float can't be cast to the desired output type {}",
            x.dtype.name()
        );
    }
    let strides = preserve_strides(x)?;
    let out = cx.empty(&x.sizes, strides.clone(), x.dtype)?;
    let mask = cx.empty(&x.sizes, strides, ScalarType::Bool)?;
    cx.k.dropout(x, p, train, &out, &mask)
        .map_err(failed("dropout"))?;
    Ok(vec![Output::Tensor(out), Output::Tensor(mask)])
}

/// `rrelu_with_noise(self, noise, lower, upper, training, generator)`, `_` and `.out`. In
/// training each element at most 0 is scaled by a slope drawn from U(lower, upper) and
/// `noise` records the slopes (1 elsewhere); otherwise it is `leaky_relu` with the mean slope.
pub fn rrelu_with_noise(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(6 + form.out_len())?;
    let (x, noise) = (args.tensor(0)?, args.tensor(1)?);
    let lower = args.scalar_or(2, Scalar::Float(0.125))?.to_f64();
    let upper = args.scalar_or(3, Scalar::Float(1.0 / 3.0))?.to_f64();
    let training = args.bool_or(4, false)?;
    ensure!(
        noise.sizes == x.sizes,
        "noise tensor shape must match self tensor shape. Got self.shape = {} noise.shape = {}",
        fmt_shape(&x.sizes),
        fmt_shape(&noise.sizes)
    );
    let kernel = if training {
        "rrelu_with_noise_out_cpu"
    } else {
        "leaky_relu_cpu"
    };
    ensure_kernel!(
        x.dtype.is_floating(),
        "\"{kernel}\" not implemented for '{}'",
        x.dtype.name()
    );
    let (out, returned) = output(cx, form.dest(args)?, &x.sizes, x.dtype)?;
    if training {
        check_scalar_type(x.dtype, noise.dtype)?;
        random_slopes(cx, x, noise, (lower, upper), &out)?;
    } else {
        let slope = Scalar::Float((lower + upper) / 2.0);
        cx.k.activation(ActivationOp::LeakyRelu(slope), x, &out)
            .map_err(failed("activation"))?;
    }
    Ok(vec![returned])
}

/// Draws `noise` for the elements of `x` at most 0 (1 for the others) and writes `x * noise`.
fn random_slopes(
    cx: &mut Ctx,
    x: &TensorMeta,
    noise: &TensorMeta,
    (lower, upper): (f64, f64),
    out: &TensorMeta,
) -> Result<()> {
    check_internal(noise)?;
    cx.k.random(RandomOp::Uniform, lower, upper, noise)
        .map_err(failed("random"))?;
    let negative = cx.empty_contiguous(&x.sizes, ScalarType::Bool)?;
    let (x_in, zero, one) = (
        Operand::Tensor(x.clone()),
        Operand::Number(Scalar::Integer(0)),
        Operand::Number(Scalar::Integer(1)),
    );
    cx.k.binary(BinaryOp::Le, &x_in, &zero, None, x.dtype, &negative)
        .map_err(failed("binary"))?;
    let drawn = Operand::Tensor(noise.clone());
    let negative_in = Operand::Tensor(negative.clone());
    cx.k.ternary(
        TernaryOp::Where,
        &negative_in,
        &drawn,
        &one,
        None,
        x.dtype,
        noise,
    )
    .map_err(failed("ternary"))?;
    cx.free(&negative);
    cx.k.binary(BinaryOp::Mul, &x_in, &drawn, None, x.dtype, out)
        .map_err(failed("binary"))
}

/// `native_dropout_backward(grad_output, mask, scale)` and `.out`.
pub fn dropout_backward(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (grad, mask) = (args.tensor(0)?, args.tensor(1)?);
    let scale = args.float_or(2, 1.0)?;
    let pw = Pointwise::new(vec![Value::Tensor(grad), Value::Tensor(mask)])?;
    let dtype = pw.common_dtype();
    if !dtype.is_floating() {
        return Err(Error::invalid(format!(
            "native_dropout_backward: expected a floating point gradient, got {}",
            grad.dtype.name()
        )));
    }
    let target = pw.target(cx, form.dest(args)?, dtype, true)?;
    let (g, m) = (pw.expanded(0)?, pw.expanded(1)?);
    target.run(cx, "dropout_backward", |k, out| {
        k.dropout_backward(&g, &m, scale, out)
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, f32s, geometry, meta, run, tensor};
    use crate::types::{Arg, Output, ScalarType};

    #[test]
    fn rrelu_draws_slopes_in_training_only() {
        let (x, noise) = (f32s(&[2, 3], 1), f32s(&[2, 3], 2));
        let args = |training| {
            vec![
                arg(&x),
                arg(&noise),
                Arg::Float(0.1),
                Arg::Float(0.3),
                Arg::Boolean(training),
            ]
        };
        let (res, fake) = run("rrelu_with_noise", "", args(true));
        assert_eq!(meta(&res.unwrap(), 0).sizes, vec![2, 3]);
        assert_eq!(
            fake.kernels(),
            vec!["random", "binary", "ternary", "binary"]
        );
        let (_, fake) = run("rrelu_with_noise", "", args(false));
        assert_eq!(fake.kernels(), vec!["activation"]);
        assert!(fake.calls[0].detail.contains("0.2"));
        let short = f32s(&[3], 3);
        let (res, _) = run("rrelu_with_noise", "", vec![arg(&x), arg(&short)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("noise tensor shape must match"));
    }

    #[test]
    fn random_fills() {
        let x = f32s(&[3], 1);
        let (res, fake) = run("bernoulli_", "float", vec![arg(&x), Arg::Float(0.25)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].detail, "RandomOp::Bernoulli 0.25 0");
        let (res, _) = run("bernoulli_", "float", vec![arg(&x), Arg::Float(1.5)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("bernoulli_ expects p to be in [0, 1], but got p=1.5"));
        let (res, fake) = run("random_", "from", vec![arg(&x), Arg::Integer(2), Arg::None]);
        assert!(res.is_ok());
        assert_eq!(fake.calls[0].detail, "Some((2, None))");
        let (res, _) = run(
            "random_",
            "from",
            vec![arg(&x), Arg::Integer(5), Arg::Integer(2)],
        );
        assert!(res.unwrap_err().message.contains("but got from=5 >= to=2"));
        let (_, fake) = run("random_", "", vec![arg(&x)]);
        assert_eq!(fake.calls[0].detail, "None");
    }

    #[test]
    fn dropout_layouts() {
        let mut xt = f32s(&[3, 4], 1);
        xt.strides = vec![1, 3];
        let (res, _) = run(
            "native_dropout",
            "",
            vec![arg(&xt), Arg::Float(0.3), Arg::Boolean(true)],
        );
        let outputs = res.unwrap();
        assert_eq!(meta(&outputs, 0).strides, vec![1, 3]);
        assert_eq!(
            geometry(&meta(&outputs, 1)),
            (vec![3, 4], vec![1, 3], 0, ScalarType::Bool)
        );
        let long = tensor(&[4], ScalarType::Int64, 2);
        let (res, _) = run(
            "native_dropout",
            "",
            vec![arg(&long), Arg::Float(0.5), Arg::Boolean(true)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("can't be cast to the desired output type Long"));
        let mask = tensor(&[3, 4], ScalarType::Bool, 3);
        let (res, _) = run(
            "native_dropout_backward",
            "",
            vec![arg(&f32s(&[3, 4], 4)), arg(&mask), Arg::Float(2.0)],
        );
        assert_eq!(meta(&res.unwrap(), 0).dtype, ScalarType::Float32);
    }
}
