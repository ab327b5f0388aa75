//! Factories and in-place fills: `empty`, `empty_strided`, `arange`, `eye`, `fill_`, `zero_`,
//! `normal_`, `uniform_`, and `normal` with tensor means or deviations.

use crate::error::{ensure, ensure_kernel, ensure_value, Error, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::out::{resize_output, resize_quietly};
use crate::ops::{Dest, Form, Outputs};
use crate::rules::dims::expand;
use crate::rules::dtype::{checked_number, default_float, one_element_value};
use crate::rules::layout::{contiguous_strides, strides_for, MemoryFormat};
use crate::rules::overlap::check_internal;
use crate::rules::shape::{broadcast_all, fmt_shape, numel};
use crate::types::{BinaryOp, Operand, Output, RandomOp, SampleOp, Scalar, ScalarType, TensorMeta};

/// Checks the `layout` and `device` arguments: strided tensors on remote only.
pub fn check_placement(args: &Args, layout: usize, device: usize) -> Result<()> {
    let strided = args.opt_int(layout)?.is_none_or(|l| l == 0);
    ensure!(strided, "only the strided layout is supported on remote");
    if let Some(dev) = args.opt_str(device)? {
        if !dev.starts_with("remote") {
            return Err(Error::unsupported(format!(
                "device {dev} is not remote; copies across devices are the client's to do"
            )));
        }
    }
    Ok(())
}

/// A factory's `layout`, `device` and `pin_memory`, which follows `device` in every factory's
/// schema: CUDA's factories refuse pinned memory (`_to_copy` ignores it, as the CPU does).
pub fn check_factory_placement(args: &Args, layout: usize, device: usize) -> Result<()> {
    check_placement(args, layout, device)?;
    ensure!(
        !args.bool_or(device + 1, false)?,
        "Only dense CPU tensors can be pinned"
    );
    Ok(())
}

/// `empty.memory_format(size, *, dtype, layout, device, pin_memory, memory_format)`
pub fn empty(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let sizes = args.int_list(0)?;
    let dtype = args.opt_dtype(1)?.unwrap_or_else(default_float);
    check_factory_placement(args, 2, 3)?;
    let format = args.memory_format(5)?.unwrap_or(MemoryFormat::Contiguous);
    let t = cx.empty(sizes, strides_for(sizes, format)?, dtype)?;
    cx.fill_uninitialized(&t)?;
    Ok(vec![Output::Tensor(t)])
}

/// `_efficientzerotensor(size, *, dtype, layout, device, pin_memory)`, which autograd
/// formulas make for gradients known to be zero: a contiguous tensor of zeros (PyTorch's
/// storage-less zero tensor is an optimisation; every op reads this one alike).
pub fn zero_tensor(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(5)?;
    let sizes = args.int_list(0)?;
    let dtype = args.opt_dtype(1)?.unwrap_or_else(default_float);
    check_factory_placement(args, 2, 3)?;
    let t = cx.empty_contiguous(sizes, dtype)?;
    fill_with(cx, &t, Scalar::Integer(0))?;
    Ok(vec![Output::Tensor(t)])
}

/// `empty_strided(size, stride, *, dtype, layout, device, pin_memory)`
pub fn empty_strided(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(6)?;
    let sizes = args.int_list(0)?;
    let strides = args.int_list(1)?;
    let dtype = args.opt_dtype(2)?.unwrap_or_else(default_float);
    check_factory_placement(args, 3, 4)?;
    let t = cx.empty(sizes, strides.to_vec(), dtype)?;
    cx.fill_uninitialized(&t)?;
    Ok(vec![Output::Tensor(t)])
}

/// `arange.start_out(start, end, step=1, *, out)` and `arange.out(end, *, out)`, which every
/// `torch.arange` reaches: `out` (its dtype chosen by the caller) resized to the count.
pub fn arange(args: &Args, cx: &mut Ctx, with_start: bool) -> Outputs {
    let one = Scalar::Integer(1);
    let (start, end, step, at) = if with_start {
        args.at_most(4)?;
        (args.scalar(0)?, args.scalar(1)?, args.scalar_or(2, one)?, 3)
    } else {
        args.at_most(2)?;
        (Scalar::Integer(0), args.scalar(0)?, one, 1)
    };
    let out = args.tensor(at)?;
    ensure_kernel!(
        out.dtype != ScalarType::Bool,
        "\"arange_cpu\" not implemented for 'Bool'"
    );
    let n = arange_len(start, end, step, out.dtype)?;
    sequence_out(cx, at as u32, out, n, true, |cx, target| {
        cx.k.arange(start, end, step, target)
            .map_err(failed("arange"))
    })
}

/// The `out=` tensor of a sequence of `n` values (`arange_out`, `linspace_out`). One of
/// another element count is resized to `[n]` (`arange` warns where it held elements); one of
/// `n` elements keeps its shape and takes the values in its logical order.
fn sequence_out(
    cx: &mut Ctx,
    at: u32,
    out: &TensorMeta,
    n: i64,
    warn: bool,
    fill: impl FnOnce(&mut Ctx, &TensorMeta) -> Result<()>,
) -> Outputs {
    let held = numel(&out.sizes)?;
    if held != n {
        if warn && held > 0 {
            cx.warn(format!(
                "The number of elements in the out tensor of shape {} is {held} which does not \
                 match the computed number of elements {n}. Note that this may occur as a result \
                 of rounding error. The out tensor will be resized to a tensor of shape ({n},).",
                fmt_shape(&out.sizes)
            ));
        }
        let resized = cx.resize(out, &[n], vec![1])?;
        fill(cx, &resized)?;
        return Ok(vec![Output::Updated((at, resized))]);
    }
    check_internal(out)?;
    if out.sizes == [n] {
        fill(cx, out)?;
    } else {
        let flat = cx.empty_contiguous(&[n], out.dtype)?;
        fill(cx, &flat)?;
        let shaped = flat.view(out.sizes.clone(), contiguous_strides(&out.sizes)?, 0);
        cx.k.copy(&shaped, out).map_err(failed("copy"))?;
        cx.free(&flat);
    }
    Ok(vec![Output::Argument(at)])
}

fn as_i64(s: Scalar) -> i64 {
    match s {
        Scalar::Integer(v) => v,
        Scalar::Float(v) => v as i64,
        Scalar::Boolean(v) => i64::from(v),
        Scalar::Complex((re, _)) => re as i64,
    }
}

/// The element count of `arange`, as `arange_out` computes it: in integers for int64
/// results, else in doubles.
fn arange_len(start: Scalar, end: Scalar, step: Scalar, dtype: ScalarType) -> Result<i64> {
    let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
    ensure!(st != 0.0, "step must be nonzero");
    ensure!(
        s.is_finite() && e.is_finite(),
        "unsupported range: {s} -> {e}"
    );
    let inconsistent = "upper bound and lower bound inconsistent with step sign";
    let size = if dtype == ScalarType::Int64 {
        let (s, e, st) = (as_i64(start), as_i64(end), as_i64(step));
        // A fractional step can truncate to 0 only here.
        ensure_value!(st != 0, "step must be nonzero");
        ensure!((st > 0 && e >= s) || (st < 0 && e <= s), "{inconsistent}");
        let span = e
            .checked_sub(s)
            .and_then(|d| d.checked_add(st - st.signum()));
        span.map(|d| d / st)
            .ok_or_else(|| Error::invalid("invalid size, possible overflow?"))? as f64
    } else {
        ensure!(
            (st > 0.0 && e >= s) || (st < 0.0 && e <= s),
            "{inconsistent}"
        );
        ((e - s) / st).ceil()
    };
    ensure!(
        (0.0..i64::MAX as f64).contains(&size),
        "invalid size, possible overflow?"
    );
    Ok(size as i64)
}

/// `linspace.out(start, end, steps, *, out)` and, with `log`, `logspace.out(start, end,
/// steps, base=10.0, *, out)`, which `torch.linspace`/`logspace` reach: `out` resized to
/// `[steps]`.
pub fn spaced(args: &Args, cx: &mut Ctx, log: bool) -> Outputs {
    let at = if log { 4 } else { 3 };
    args.at_most(at + 1)?;
    let (start, end) = (args.scalar(0)?, args.scalar(1)?);
    let steps = args.int(2)?;
    ensure!(steps >= 0, "number of steps must be non-negative");
    let base = if log {
        Some(args.float_or(3, 10.0)?)
    } else {
        None
    };
    let out = args.tensor(at)?;
    // One step is a fill, which bool takes; more need the kernel.
    ensure_kernel!(
        out.dtype != ScalarType::Bool || steps < 2,
        "\"{}_cpu\" not implemented for 'Bool'",
        if log { "logspace" } else { "linspace" }
    );
    sequence_out(cx, at as u32, out, steps, false, |cx, target| {
        cx.k.spaced(start, end, base, target)
            .map_err(failed("spaced"))
    })
}

/// `eye.out(n, *, out)` and, with `with_m`, `eye.m_out(n, m, *, out)`, which every
/// `torch.eye` reaches: `out` resized to `[n, m]`, zeros with ones on the diagonal.
pub fn eye(args: &Args, cx: &mut Ctx, with_m: bool) -> Outputs {
    let at = if with_m { 2 } else { 1 };
    args.at_most(at + 1)?;
    let n = args.int(0)?;
    let m = if with_m { args.int(1)? } else { n };
    ensure!(n >= 0, "n must be greater or equal to 0, got {n}");
    ensure!(m >= 0, "m must be greater or equal to 0, got {m}");
    // `eye_out` resizes its result with `resize_`: without `resize_output`'s warning.
    let (out, result) = resize_quietly(cx, at as u32, args.tensor(at)?, &[n, m])?;
    fill_with(cx, &out, Scalar::Integer(0))?;
    let diagonal = TensorMeta {
        sizes: vec![n.min(m)],
        strides: vec![out.strides[0] + out.strides[1]],
        ..out.clone()
    };
    fill_with(cx, &diagonal, Scalar::Integer(1))?;
    Ok(vec![result])
}

/// `fill_.Scalar(self, value)` and `fill_.Tensor(self, value)`.
pub fn fill(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let this = args.tensor(0)?;
    match args.value(1)? {
        Value::Number(value) => fill_with(cx, this, value)?,
        Value::Tensor(value) => {
            ensure!(
                value.dim() == 0,
                "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
                value.dim()
            );
            check_internal(this)?;
            let src = expand(value, &this.sizes)?;
            cx.k.copy(&src, this).map_err(failed("copy"))?;
        }
    }
    Ok(vec![Output::Argument(0)])
}

fn fill_with(cx: &mut Ctx, this: &TensorMeta, value: Scalar) -> Result<()> {
    let value = if numel(&this.sizes)? == 1 {
        one_element_value(value, this.dtype)
    } else {
        value
    };
    let value = checked_number(value, this.dtype)?;
    cx.k.fill(this, value).map_err(failed("fill"))
}

/// `zero_(self)`
pub fn zero(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    fill_with(cx, args.tensor(0)?, Scalar::Integer(0))?;
    Ok(vec![Output::Argument(0)])
}

/// The CPU's refusal of sampler `op` (`name`) on a `dtype` it does not draw.
fn refused_dtype(op: RandomOp, name: &str, dtype: ScalarType) -> Error {
    let continuous = |law: &str, named: &str| {
        Error::invalid(format!(
            "{law} distribution is a continuous probability distribution. dtype must be a \
             floating point but you specified {named}"
        ))
    };
    let kernel = match op {
        RandomOp::Exponential => return continuous("Exponential", dtype.name()),
        RandomOp::Cauchy => return continuous("Cauchy", dtype.type_meta_name()),
        RandomOp::Uniform => "check_uniform_bounds",
        RandomOp::Normal => "normal_kernel_cpu",
        RandomOp::LogNormal => "log_normal_cpu",
        RandomOp::Geometric => "geometric_cpu",
        RandomOp::Bernoulli => {
            return Error::invalid(format!(
                "{name} expects a floating point tensor, but got {}",
                dtype.name()
            ))
        }
    };
    Error::unsupported(format!(
        "\"{kernel}\" not implemented for '{}'",
        dtype.name()
    ))
}

/// The in-place samplers, `op_(self, a, b, *, generator)`: `normal_` (mean 0, std 1),
/// `uniform_` (from 0, to 1), `exponential_` (lambd 1), `log_normal_` (mean 1, std 2),
/// `cauchy_` (median 0, sigma 1) and `geometric_` (p).
pub fn random(args: &Args, cx: &mut Ctx, op: RandomOp) -> Outputs {
    args.at_most(4)?;
    let this = args.tensor(0)?;
    let (name, a, b) = match op {
        RandomOp::Normal => ("normal_", args.float_or(1, 0.0)?, args.float_or(2, 1.0)?),
        RandomOp::Uniform => ("uniform_", args.float_or(1, 0.0)?, args.float_or(2, 1.0)?),
        RandomOp::Bernoulli => ("bernoulli_", args.float_or(1, 0.5)?, 0.0),
        RandomOp::Exponential => ("exponential_", args.float_or(1, 1.0)?, 0.0),
        RandomOp::LogNormal => (
            "log_normal_",
            args.float_or(1, 1.0)?,
            args.float_or(2, 2.0)?,
        ),
        RandomOp::Cauchy => ("cauchy_", args.float_or(1, 0.0)?, args.float_or(2, 1.0)?),
        RandomOp::Geometric => ("geometric_", args.float_or(1, f64::NAN)?, 0.0),
    };
    // A complex tensor's parts are drawn apart: uniform on the range, normal with
    // std / sqrt(2), as PyTorch draws them.
    let complex = matches!(op, RandomOp::Normal | RandomOp::Uniform) && this.dtype.is_complex();
    let integral_geometric = op == RandomOp::Geometric && this.dtype.is_integral(false);
    if !(this.dtype.is_floating() || complex || integral_geometric) {
        return Err(refused_dtype(op, name, this.dtype));
    }
    // NaN bounds fail these checks, as PyTorch's `>=`/`<=` comparisons do.
    let ordered = |lo: f64, hi: f64| lo.partial_cmp(&hi).is_some_and(|o| o.is_le());
    let above = |v: f64, lo: f64| v.partial_cmp(&lo).is_some_and(|o| o.is_gt());
    match op {
        RandomOp::Normal => ensure!(
            ordered(0.0, b),
            "normal expects std >= 0.0, but found std {b}"
        ),
        RandomOp::Uniform => ensure!(
            ordered(a, b),
            "uniform_ expects to return a [from, to) range, but found from={a} > to={b}"
        ),
        RandomOp::Exponential => ensure!(
            above(a, 0.0) && a.is_finite(),
            "exponential_ expects lambda > 0.0, but found lambda={a}"
        ),
        RandomOp::LogNormal => ensure!(
            above(b, 0.0),
            "log_normal_ expects std > 0.0, but found std={b}"
        ),
        RandomOp::Geometric => ensure!(
            above(a, 0.0) && above(1.0, a),
            "geometric_ expects p to be in (0, 1), but got p={a}"
        ),
        RandomOp::Bernoulli | RandomOp::Cauchy => {}
    }
    check_internal(this)?;
    cx.k.random(op, a, b, this).map_err(failed("random"))?;
    Ok(vec![Output::Argument(0)])
}

/// `normal.Tensor_Tensor(mean, std)`, `normal.Tensor_float(mean, std=1)`,
/// `normal.float_Tensor(mean=0, std)` and their `out=` forms: as PyTorch computes them,
/// standard normal samples of the broadcast shape (contiguous, or `out` resized to it),
/// scaled by `std` and shifted by `mean`, in the mean's dtype (the std's where the mean is a
/// number) or `out`'s.
pub fn normal_tensors(args: &Args, cx: &mut Ctx, form: Form) -> Outputs {
    args.at_most(3 + form.out_len())?;
    let (mean, std) = (args.value(0)?, args.value(1)?);
    let tensor = |v| match v {
        Value::Tensor(t) => Some(t),
        Value::Number(_) => None,
    };
    let tensors: Vec<&TensorMeta> = [mean, std].into_iter().filter_map(tensor).collect();
    let Some(first) = tensors.first() else {
        return Err(Error::invalid(
            "normal expects a tensor mean or a tensor std".to_string(),
        ));
    };
    let shape = broadcast_all(tensors.iter().map(|t| t.sizes.as_slice()))?;
    if let Value::Number(s) = std {
        let s = s.to_f64();
        let nonnegative = s >= 0.0;
        ensure!(nonnegative, "normal expects std >= 0.0, but found std {s}");
    }
    let dest = form.dest(args)?;
    let dtype = match dest {
        Dest::Out(_, out) => out.dtype,
        _ => first.dtype,
    };
    ensure_kernel!(
        dtype.is_floating() && tensors.iter().all(|t| !t.dtype.is_complex()),
        "\"normal_kernel_cpu\" not implemented for '{}'",
        dtype.name()
    );
    let (out, result) = match dest {
        Dest::Out(at, given) => resize_output(cx, at, given, &shape)?,
        _ => {
            let t = cx.empty_contiguous(&shape, dtype)?;
            (t.clone(), Output::Tensor(t))
        }
    };
    match std {
        Value::Tensor(s) => {
            cx.k.sample(SampleOp::Normal, &[expand(s, &shape)?], &out)
                .map_err(failed("sample"))?
        }
        Value::Number(s) => {
            cx.k.random(RandomOp::Normal, 0.0, s.to_f64(), &out)
                .map_err(failed("random"))?
        }
    }
    let shift = match mean {
        Value::Tensor(m) => Operand::Tensor(expand(m, &shape)?),
        Value::Number(n) if n.to_f64() != 0.0 => Operand::Number(n),
        Value::Number(_) => return Ok(vec![result]),
    };
    let target = Operand::Tensor(out.clone());
    cx.k.binary(BinaryOp::Add, &target, &shift, None, dtype, &out)
        .map_err(failed("binary"))?;
    Ok(vec![result])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{arg, deterministic, f32s, geometry, meta, run, run_under, tensor};
    use crate::types::{Arg, Output, Scalar, ScalarType};

    #[test]
    fn deterministic_empties_hold_nan_or_the_largest_integer() {
        let empty = |dtype| {
            let args = vec![Arg::IntList(vec![2]), Arg::Dtype(dtype)];
            let (res, fake) = run_under("empty", "memory_format", args, 0, deterministic());
            assert!(res.is_ok());
            fake.calls
                .iter()
                .map(|c| c.detail.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(empty(ScalarType::Float32), vec!["Scalar::Float(NaN)"]);
        assert_eq!(empty(ScalarType::Int8), vec!["Scalar::Integer(127)"]);
        let largest = format!("Scalar::Integer({})", i64::MAX);
        assert_eq!(empty(ScalarType::Int64), vec![largest]);
        assert_eq!(empty(ScalarType::Bool), vec!["Scalar::Boolean(true)"]);
        let (_, fake) = run("empty", "memory_format", vec![Arg::IntList(vec![2])]);
        assert!(fake.calls.is_empty(), "filled only when asked");
    }

    fn arange_len(start: Scalar, end: Scalar, step: Scalar, dtype: ScalarType) -> Vec<i64> {
        let out = tensor(&[0], dtype, 1);
        let args = vec![
            Arg::Scalar(start),
            Arg::Scalar(end),
            Arg::Scalar(step),
            arg(&out),
        ];
        let (res, fake) = run("arange", "start_out", args);
        // An `out` of another length asks whether its storage has room already.
        assert_eq!(fake.kernels().last(), Some(&"arange"));
        let outputs = res.unwrap();
        match outputs[0] {
            Output::Argument(3) => out.sizes,
            _ => meta(&outputs, 0).sizes,
        }
    }

    #[test]
    fn arange_counts_like_pytorch() {
        let (i, f) = (Scalar::Integer, Scalar::Float);
        assert_eq!(arange_len(i(0), i(10), i(3), ScalarType::Int64), vec![4]);
        assert_eq!(arange_len(i(10), i(0), i(-3), ScalarType::Int64), vec![4]);
        assert_eq!(
            arange_len(f(0.0), f(1.0), f(0.1), ScalarType::Float32),
            vec![10]
        );
        assert_eq!(arange_len(i(0), i(0), i(1), ScalarType::Float32), vec![0]);
        let out = tensor(&[0], ScalarType::Int64, 1);
        let args = vec![
            Arg::Scalar(i(0)),
            Arg::Scalar(i(5)),
            Arg::Scalar(i(-1)),
            arg(&out),
        ];
        let (res, _) = run("arange", "start_out", args);
        assert!(res
            .unwrap_err()
            .message
            .contains("inconsistent with step sign"));
        let (res, _) = run("arange", "out", vec![Arg::Scalar(i(7)), arg(&out)]);
        assert!(matches!(res.unwrap()[0], Output::Updated((1, _))));
    }

    fn none() -> Arg {
        Arg::None
    }

    #[test]
    fn empty_allocates_contiguous_or_channels_last() {
        let (res, fake) = run(
            "empty",
            "memory_format",
            vec![Arg::IntList(vec![2, 3]), Arg::Dtype(ScalarType::Int64)],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![2, 3], vec![3, 1], 0, ScalarType::Int64)
        );
        assert_eq!(fake.allocated, vec![(100, 48)]);
        let args = vec![
            Arg::IntList(vec![2, 3, 4, 5]),
            none(),
            none(),
            Arg::Str("remote:0".into()),
            none(),
            Arg::Integer(2),
        ];
        let (res, _) = run("empty", "memory_format", args);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![60, 1, 15, 3]);
        let (res, fake) = run("empty", "memory_format", vec![Arg::IntList(vec![-1, 2])]);
        assert!(res
            .unwrap_err()
            .message
            .contains("Trying to create tensor with negative dimension -1: [-1, 2]"));
        assert!(fake.allocated.is_empty());
    }

    #[test]
    fn empty_strided_sizes_its_storage_by_extent() {
        let args = vec![
            Arg::IntList(vec![2, 3]),
            Arg::IntList(vec![1, 4]),
            Arg::Dtype(ScalarType::Float64),
        ];
        let (res, fake) = run("empty_strided", "", args);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![1, 4]);
        // offsets up to 1 + 2 * 4 = 9 -> 10 doubles
        assert_eq!(fake.allocated, vec![(100, 80)]);
        let (res, _) = run(
            "empty_strided",
            "",
            vec![Arg::IntList(vec![2]), Arg::IntList(vec![-1])],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("Storage size calculation overflowed"));
        let (res, _) = run(
            "empty_strided",
            "",
            vec![Arg::IntList(vec![i64::MAX, 2]), Arg::IntList(vec![2, 1])],
        );
        assert!(res.is_err());
    }

    #[test]
    fn fills() {
        let x = f32s(&[2, 3], 1);
        let (res, fake) = run(
            "fill_",
            "Scalar",
            vec![arg(&x), Arg::Scalar(Scalar::Float(2.5))],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].detail, "Scalar::Float(2.5)");
        let v = tensor(&[], ScalarType::Float64, 2);
        let (_, fake) = run("fill_", "Tensor", vec![arg(&x), arg(&v)]);
        assert_eq!(fake.kernels(), vec!["copy"]);
        assert_eq!(fake.calls[0].tensors[0].strides, vec![0, 0]);
        let (res, _) = run("fill_", "Tensor", vec![arg(&x), arg(&f32s(&[2], 3))]);
        assert!(res.unwrap_err().message.contains(
            "fill_ only supports 0-dimension value tensor but got tensor with 1 dimensions."
        ));
        let (_, fake) = run("zero_", "", vec![arg(&x)]);
        assert_eq!(fake.calls[0].detail, "Scalar::Integer(0)");
    }

    #[test]
    fn samplers_check_their_parameters_as_pytorch_does() {
        let x = f32s(&[3], 1);
        let (res, fake) = run("exponential_", "", vec![arg(&x)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].detail, "RandomOp::Exponential 1 0");
        let refused = |name: &str, args: Vec<Arg>| run(name, "", args).0.unwrap_err().message;
        assert!(refused("exponential_", vec![arg(&x), Arg::Float(-1.0)])
            .contains("exponential_ expects lambda > 0.0, but found lambda=-1"));
        assert!(refused(
            "log_normal_",
            vec![arg(&x), Arg::Float(0.0), Arg::Float(0.0)]
        )
        .contains("log_normal_ expects std > 0.0, but found std=0"));
        assert!(refused("geometric_", vec![arg(&x), Arg::Float(1.5)])
            .contains("geometric_ expects p to be in (0, 1), but got p=1.5"));
        let longs = tensor(&[3], ScalarType::Int64, 2);
        assert!(run("geometric_", "", vec![arg(&longs), Arg::Float(0.5)])
            .0
            .is_ok());
        assert!(refused("cauchy_", vec![arg(&longs)])
            .contains("dtype must be a floating point but you specified long int"));
        assert!(refused("uniform_", vec![arg(&longs)])
            .contains("\"check_uniform_bounds\" not implemented for 'Long'"));
    }

    #[test]
    fn random_fills_check_their_bounds() {
        let x = f32s(&[3], 1);
        let (res, fake) = run(
            "normal_",
            "",
            vec![arg(&x), Arg::Float(1.0), Arg::Float(2.0), none()],
        );
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].detail, "RandomOp::Normal 1 2");
        let (res, _) = run(
            "normal_",
            "",
            vec![arg(&x), Arg::Float(0.0), Arg::Float(-1.0)],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("normal expects std >= 0.0, but found std -1"));
        let (res, _) = run(
            "uniform_",
            "",
            vec![arg(&x), Arg::Float(2.0), Arg::Float(1.0)],
        );
        assert!(res.unwrap_err().message.contains("found from=2 > to=1"));
        let (res, _) = run(
            "uniform_",
            "",
            vec![arg(&tensor(&[3], ScalarType::Int64, 2))],
        );
        assert!(res.is_err());
        let mut expanded = f32s(&[3], 3);
        expanded.strides = vec![0];
        let (res, _) = run("normal_", "", vec![arg(&expanded)]);
        assert!(res
            .unwrap_err()
            .message
            .contains("more than one element of the written-to tensor"));
    }
}
