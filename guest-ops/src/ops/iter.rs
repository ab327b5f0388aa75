//! TensorIterator emulation for elementwise ops: broadcasting, the result dtype, the output's
//! layout, `out=` checks and resizing, and a temporary when the output's dtype differs.

use crate::error::{ensure, Error, Result};
use crate::kernels::{failed, KernelResult, Kernels};
use crate::ops::args::Value;
use crate::ops::ctx::Ctx;
use crate::ops::out::{output, resize_output};
use crate::ops::Dest;
use crate::rules::dims::expand;
use crate::rules::dtype::{check_can_cast, ResultType};
use crate::rules::overlap::{check_internal, check_partial};
use crate::rules::propagate::iterator_strides;
use crate::rules::shape::{broadcast_all, fmt_shape};
use crate::types::{Operand, Output, ScalarType, TensorMeta};

/// The inputs of one elementwise op and their broadcast shape.
pub struct Pointwise<'a> {
    pub shape: Vec<i64>,
    inputs: Vec<Value<'a>>,
    /// Whether numbers are operands (Python numbers PyTorch wraps into 0-dim tensors) rather
    /// than the op's `Scalar` parameters, which promote but take no part in the layout.
    wrapped_numbers: bool,
}

/// Where the kernel writes (`out`, in the result dtype) and what the op returns.
pub struct Target {
    pub out: TensorMeta,
    cast_to: Option<TensorMeta>,
    output: Output,
}

impl<'a> Pointwise<'a> {
    pub fn new(inputs: Vec<Value<'a>>) -> Result<Self> {
        let shape = broadcast_all(inputs.iter().filter_map(|v| match v {
            Value::Tensor(t) => Some(t.sizes.as_slice()),
            Value::Number(_) => None,
        }))?;
        Ok(Pointwise {
            shape,
            inputs,
            wrapped_numbers: true,
        })
    }

    /// Like [`new`](Self::new), where numbers are `Scalar` parameters (`clamp`'s bounds,
    /// `pow`'s exponent, `lerp`'s weight): PyTorch's iterator sees the tensors alone.
    pub fn with_parameters(inputs: Vec<Value<'a>>) -> Result<Self> {
        Ok(Pointwise {
            wrapped_numbers: false,
            ..Self::new(inputs)?
        })
    }

    fn tensors(&self) -> impl Iterator<Item = &'a TensorMeta> + '_ {
        self.inputs.iter().filter_map(|v| match v {
            Value::Tensor(t) => Some(*t),
            Value::Number(_) => None,
        })
    }

    /// TensorIterator's checks of a given output that come before any kernel reads dtypes:
    /// its overlaps with itself and the inputs, then the cast of `dtype` into it. Ops whose
    /// kernel refuses a dtype run these first (`int_tensor &= 2.5` is a cast error).
    pub fn check_dest(&self, dest: Dest, dtype: ScalarType) -> Result<()> {
        let (Dest::InPlace(_, given) | Dest::Out(_, given)) = dest else {
            return Ok(());
        };
        check_internal(given)?;
        for input in self.tensors() {
            check_partial(given, input)?;
        }
        check_can_cast(dtype, given.dtype)?;
        Ok(())
    }

    /// `result_type` of all inputs: PyTorch's common dtype.
    pub fn common_dtype(&self) -> ScalarType {
        let mut state = ResultType::default();
        for v in &self.inputs {
            match v {
                Value::Tensor(t) => state.tensor(t.dtype, t.dim()),
                Value::Number(s) => state.number(*s),
            }
        }
        state.result().unwrap_or(ScalarType::Float32)
    }

    /// Input `i` for a kernel: a tensor broadcast to the op's shape, or a number.
    pub fn operand(&self, i: usize) -> Result<Operand> {
        match self.inputs.get(i) {
            Some(Value::Tensor(t)) => Ok(Operand::Tensor(expand(t, &self.shape)?)),
            Some(Value::Number(s)) => Ok(Operand::Number(*s)),
            None => Err(Error::invalid(format!("missing input {i}"))),
        }
    }

    /// Input `i`, which must be a tensor, broadcast to the op's shape.
    pub fn expanded(&self, i: usize) -> Result<TensorMeta> {
        match self.inputs.get(i) {
            Some(Value::Tensor(t)) => expand(t, &self.shape),
            _ => Err(Error::invalid(format!("input {i} must be a tensor"))),
        }
    }

    /// The output in `dest` for a result of `dtype`. With `safe_cast`, results that cannot be
    /// cast to an `out=`/in-place dtype are errors (`enforce_safe_casting_to_output`).
    /// A new output of the broadcast shape laid out as `strides`, for kernels that write
    /// into an `empty_like` of one input rather than what the iterator would allocate.
    pub fn fresh(&self, cx: &mut Ctx, strides: Vec<i64>, dtype: ScalarType) -> Result<Target> {
        let out = cx.empty(&self.shape, strides, dtype)?;
        Ok(Target {
            output: Output::Tensor(out.clone()),
            out,
            cast_to: None,
        })
    }

    pub fn target(
        &self,
        cx: &mut Ctx,
        dest: Dest,
        dtype: ScalarType,
        safe_cast: bool,
    ) -> Result<Target> {
        let (index, given, in_place) = match dest {
            Dest::New => return self.fresh(cx, self.strides()?, dtype),
            Dest::InPlace(i, t) => (i, t, true),
            Dest::Out(i, t) => (i, t, false),
        };
        check_internal(given)?;
        for input in self.tensors() {
            check_partial(given, input)?;
        }
        if safe_cast {
            check_can_cast(dtype, given.dtype)?;
        }
        // An `out=` that is one of the inputs is read and written, as an in-place self is:
        // TensorIterator does not resize it.
        let read_too = in_place || self.tensors().any(|t| t == given);
        let (dst, output) = if given.sizes == self.shape {
            (given.clone(), Output::Argument(index))
        } else {
            ensure!(
                !read_too,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(&given.sizes),
                fmt_shape(&self.shape)
            );
            let resized = cx.resize_out(given, &self.shape, self.strides()?)?;
            (resized.clone(), Output::Updated((index, resized)))
        };
        Target::computed_in(cx, (dst, output), dtype)
    }

    fn strides(&self) -> Result<Vec<i64>> {
        let tensors: Vec<&TensorMeta> = self.tensors().collect();
        let numbers = self.wrapped_numbers && tensors.len() < self.inputs.len();
        iterator_strides(&self.shape, &tensors, numbers)
    }
}

/// The output in `dest` of an elementwise op on `x` alone whose result has `x`'s dtype, which
/// an `out=` or in-place tensor must have too; and `x` as the kernel reads it.
pub fn same_dtype_target(
    cx: &mut Ctx,
    dest: Dest,
    x: &TensorMeta,
    safe_cast: bool,
) -> Result<(Target, TensorMeta)> {
    if let Dest::Out(_, out) | Dest::InPlace(_, out) = dest {
        ensure!(
            out.dtype == x.dtype,
            "Found dtype {} but expected {}",
            out.dtype.name(),
            x.dtype.name()
        );
    }
    let pw = Pointwise::new(vec![Value::Tensor(x)])?;
    let target = pw.target(cx, dest, x.dtype, safe_cast)?;
    Ok((target, pw.expanded(0)?))
}

impl Target {
    /// `out`, a new tensor the kernel writes and the op returns.
    pub fn new_tensor(out: TensorMeta) -> Target {
        let output = Output::Tensor(out.clone());
        Target::written(out, output)
    }

    /// A target the kernel writes directly, `output` being what the op returns for it.
    fn written(out: TensorMeta, output: Output) -> Target {
        Target {
            out,
            cast_to: None,
            output,
        }
    }

    /// A result of `sizes` that a kernel computes in `dtype`, in `dest`: an `out=` is resized
    /// to `sizes` and may have any dtype `dtype` safely casts to, as the outputs of ops that
    /// cast their common dtype to their outputs may.
    pub fn cast_into(cx: &mut Ctx, dest: Dest, sizes: &[i64], dtype: ScalarType) -> Result<Target> {
        let Dest::Out(index, given) = dest else {
            let (out, output) = output(cx, dest, sizes, dtype)?;
            return Ok(Target::written(out, output));
        };
        check_can_cast(dtype, given.dtype)?;
        let (dst, output) = resize_output(cx, index, given, sizes)?;
        Target::computed_in(cx, (dst, output), dtype)
    }

    /// The target for a kernel computing in `dtype` whose result goes to `dst`: `dst` itself,
    /// or a temporary cast into it.
    fn computed_in(
        cx: &mut Ctx,
        (dst, output): (TensorMeta, Output),
        dtype: ScalarType,
    ) -> Result<Target> {
        if dst.dtype == dtype {
            return Ok(Target::written(dst, output));
        }
        let temp = cx.empty_contiguous(&dst.sizes, dtype)?;
        Ok(Target {
            out: temp,
            cast_to: Some(dst),
            output,
        })
    }

    /// The tensor a kernel writes and what the op returns, for a target of the dtype the
    /// kernel computes in (nothing to cast).
    pub fn direct(self) -> (TensorMeta, Output) {
        debug_assert!(self.cast_to.is_none());
        (self.out, self.output)
    }

    /// Runs `kernel` into the target, then casts a temporary into the real output.
    pub fn run(
        self,
        cx: &mut Ctx,
        name: &'static str,
        kernel: impl FnOnce(&mut dyn Kernels, &TensorMeta) -> KernelResult,
    ) -> Result<Vec<Output>> {
        kernel(&mut *cx.k, &self.out).map_err(failed(name))?;
        if let Some(dst) = &self.cast_to {
            cx.k.copy(&self.out, dst).map_err(failed("copy"))?;
            cx.free(&self.out);
        }
        Ok(vec![self.output])
    }
}
