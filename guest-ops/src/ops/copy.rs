//! Copies between remote tensors and storage changes: `copy_`, `_copy_from`,
//! `_copy_from_and_resize`, `_to_copy`, `clone`, `resize_`, `set_`.

use crate::error::{ensure, Result};
use crate::kernels::failed;
use crate::ops::args::{Args, Value};
use crate::ops::ctx::Ctx;
use crate::ops::factory::check_placement;
use crate::ops::Outputs;
use crate::rules::dims::expand;
use crate::rules::dtype::checked_number;
use crate::rules::layout::{contiguous_strides, strides_for, MemoryFormat};
use crate::rules::overlap::{check_internal, check_partial};
use crate::rules::propagate::preserve_strides;
use crate::rules::shape::{broadcast, extent, fmt_shape, numel};
use crate::types::{Output, ScalarType, TensorMeta};

/// `copy_`'s warning for a complex source whose values go into a real tensor (a bool one
/// reads both parts: nonzero is true).
pub fn warn_if_imaginary_dropped(cx: &mut Ctx, src: &TensorMeta, dtype: ScalarType) -> Result<()> {
    let real = !dtype.is_complex() && dtype != ScalarType::Bool;
    if src.dtype.is_complex() && real && numel(&src.sizes)? > 0 {
        cx.warn_once("Casting complex values to real discards the imaginary part");
    }
    Ok(())
}

/// Copies `src` into `dst` with `copy_`'s rules: `src` broadcasts to `dst`, any dtypes.
fn copy_into(cx: &mut Ctx, src: Value, dst: &TensorMeta) -> Result<()> {
    let src = match src {
        Value::Number(value) => {
            check_internal(dst)?;
            let value = checked_number(value, dst.dtype)?;
            return cx.k.fill(dst, value).map_err(failed("fill"));
        }
        Value::Tensor(src) => src,
    };
    if src == dst {
        return Ok(());
    }
    let shape = broadcast(&dst.sizes, &src.sizes)?;
    ensure!(
        shape == dst.sizes,
        "output with shape {} doesn't match the broadcast shape {}",
        fmt_shape(&dst.sizes),
        fmt_shape(&shape)
    );
    check_internal(dst)?;
    check_partial(dst, src)?;
    warn_if_imaginary_dropped(cx, src, dst.dtype)?;
    cx.k.copy(&expand(src, &dst.sizes)?, dst)
        .map_err(failed("copy"))
}

/// `copy_(self, src, non_blocking=False)`
pub fn copy_(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    copy_into(cx, args.value(1)?, args.tensor(0)?)?;
    Ok(vec![Output::Argument(0)])
}

/// `_copy_from(self, dst, non_blocking=False)`: copies `self` into `dst`.
pub fn copy_from(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    copy_into(cx, Value::Tensor(args.tensor(0)?), args.tensor(1)?)?;
    Ok(vec![Output::Argument(1)])
}

/// `_copy_from_and_resize(self, dst)`: `dst` takes `self`'s sizes first.
pub fn copy_from_and_resize(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let (src, dst) = (args.tensor(0)?, args.tensor(1)?);
    if dst.sizes == src.sizes {
        copy_into(cx, Value::Tensor(src), dst)?;
        return Ok(vec![Output::Argument(1)]);
    }
    let resized = cx.resize(
        dst,
        &src.sizes,
        strides_for(&src.sizes, MemoryFormat::Contiguous)?,
    )?;
    copy_into(cx, Value::Tensor(src), &resized)?;
    Ok(vec![Output::Updated((1, resized))])
}

/// A copy of `src` in `dtype` and `format` (`Preserve` keeps a dense input's strides).
fn copy_as(cx: &mut Ctx, src: &TensorMeta, dtype: ScalarType, format: MemoryFormat) -> Outputs {
    let strides = match format {
        MemoryFormat::Preserve => preserve_strides(src)?,
        other => strides_for(&src.sizes, other)?,
    };
    let out = cx.empty(&src.sizes, strides, dtype)?;
    warn_if_imaginary_dropped(cx, src, dtype)?;
    cx.k.copy(src, &out).map_err(failed("copy"))?;
    Ok(vec![Output::Tensor(out)])
}

/// `_to_copy(self, *, dtype, layout, device, pin_memory, non_blocking, memory_format)`
pub fn to_copy(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(7)?;
    let src = args.tensor(0)?;
    let dtype = args.opt_dtype(1)?.unwrap_or(src.dtype);
    check_placement(args, 2, 3)?;
    let format = args.memory_format(6)?.unwrap_or(MemoryFormat::Preserve);
    copy_as(cx, src, dtype, format)
}

/// `dequantize.self` of a tensor that is not quantized (remote holds none): `self.to(float)`,
/// as the CPU and CUDA kernels give it, so `self` itself when it is float32.
pub fn dequantize(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let src = args.tensor(0)?;
    if src.dtype == ScalarType::Float32 {
        return Ok(vec![Output::Argument(0)]);
    }
    copy_as(cx, src, ScalarType::Float32, MemoryFormat::Preserve)
}

/// `clone(self, *, memory_format)`
pub fn clone(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(2)?;
    let src = args.tensor(0)?;
    let format = args.memory_format(1)?.unwrap_or(MemoryFormat::Preserve);
    copy_as(cx, src, src.dtype, format)
}

/// `resize_(self, size, *, memory_format)`: keeps the elements already there.
pub fn resize_(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(3)?;
    let this = args.tensor(0)?;
    let sizes = args.int_list(1)?;
    let format = args.memory_format(2)?;
    if this.sizes == sizes && format.is_none() {
        return Ok(vec![Output::Argument(0)]);
    }
    let strides = strides_for(sizes, format.unwrap_or(MemoryFormat::Contiguous))?;
    let resized = cx.resize(this, sizes, strides)?;
    Ok(vec![Output::Updated((0, resized))])
}

/// `set_(self)`: `self` becomes empty, on a storage of its own.
pub fn set_empty(args: &Args, cx: &mut Ctx) -> Outputs {
    args.at_most(1)?;
    let this = args.tensor(0)?;
    let empty = cx.empty_contiguous(&[0], this.dtype)?;
    Ok(vec![Output::Updated((0, empty))])
}

/// `record_stream(self, s)`: nothing to do, since a remote device runs every op in the order
/// it was sent, whatever the stream, so no storage is reused while a stream still reads it.
/// `s` (its device, as the client names it) must be a remote stream, as CUDA's must be CUDA's.
pub fn record_stream(args: &Args) -> Outputs {
    args.at_most(2)?;
    args.tensor(0)?;
    let device = args.str(1)?;
    ensure!(
        device.starts_with("remote"),
        "the stream is on {device}, not on the tensor's remote device"
    );
    Ok(vec![])
}

/// `set_.source_Tensor(self, source)`: `self` becomes a view of `source`'s storage with its
/// geometry; both must have one dtype.
pub fn set_tensor(args: &Args) -> Outputs {
    args.at_most(2)?;
    let (this, source) = (args.tensor(0)?, args.tensor(1)?);
    ensure!(
        this.dtype == source.dtype,
        "Could not set tensor of type {} to a tensor of type {}",
        source.dtype.name(),
        this.dtype.name()
    );
    Ok(vec![Output::Updated((0, source.clone()))])
}

/// `set_.source_Storage(self, source)` and `.source_Storage_storage_offset(self, source,
/// storage_offset, size, stride=[])`: `self` views the storage (which arrives as the Byte
/// tensor spanning it), whole and flat without a geometry.
pub fn set_storage(args: &Args, with_geometry: bool) -> Outputs {
    args.at_most(if with_geometry { 5 } else { 2 })?;
    let (this, source) = (args.tensor(0)?, args.tensor(1)?);
    let nbytes = source.sizes.first().copied().unwrap_or(0);
    let itemsize = this.dtype.itemsize();
    let (offset, sizes, strides) = if with_geometry {
        let sizes = args.int_list(3)?.to_vec();
        let strides = match args.opt_int_list(4)? {
            Some(s) if !s.is_empty() => s.to_vec(),
            _ => contiguous_strides(&sizes)?,
        };
        (args.int(2)?, sizes, strides)
    } else {
        (0, vec![nbytes / itemsize], vec![1])
    };
    ensure!(offset >= 0, "Tensor: invalid storage offset {offset}");
    ensure!(
        sizes.len() == strides.len(),
        "mismatch in length of strides and shape"
    );
    let span = extent(&sizes, &strides)?;
    let needed = if span == 0 {
        0
    } else {
        (offset + span) * itemsize
    };
    ensure!(
        needed <= nbytes,
        "setStorage: sizes {}, strides {}, storage offset {offset}, and itemsize {itemsize} \
         requiring a storage size of {needed} are out of bounds for storage of size {nbytes}",
        fmt_shape(&sizes),
        fmt_shape(&strides)
    );
    let mut view = source.view(sizes, strides, offset);
    view.dtype = this.dtype;
    Ok(vec![Output::Updated((0, view))])
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{
        arg, deterministic, f32s, geometry, meta, run, run_sized, run_under, tensor,
    };
    use crate::types::{Arg, Output, ScalarType};

    #[test]
    fn a_deterministic_resize_fills_what_follows_the_old_storages_whole_elements() {
        // A 7-byte storage holds 3 whole half elements; grown to 8, the last 5 are filled.
        let x = tensor(&[3], ScalarType::Float16, 1);
        let args = vec![arg(&x), Arg::IntList(vec![8])];
        let (res, fake) = run_under("resize_", "", args, 7, deterministic());
        assert!(res.is_ok());
        assert_eq!(fake.kernels(), vec!["data_size", "copy", "fill"]);
        assert_eq!(
            geometry(&fake.calls[2].tensors[0]),
            (vec![5], vec![1], 3, ScalarType::Float16)
        );
        assert_eq!(fake.calls[2].detail, "Scalar::Float(NaN)");
    }

    #[test]
    fn copy_broadcasts_src_and_checks_shapes() {
        let (dst, src) = (f32s(&[2, 3], 1), tensor(&[3], ScalarType::Int64, 2));
        let (res, fake) = run("copy_", "", vec![arg(&dst), arg(&src), Arg::Boolean(false)]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert_eq!(fake.calls[0].tensors[0].strides, vec![0, 1]);
        let (res, _) = run(
            "copy_",
            "",
            vec![arg(&f32s(&[3], 3)), arg(&f32s(&[2, 3], 4))],
        );
        assert!(res
            .unwrap_err()
            .message
            .contains("output with shape [3] doesn't match the broadcast shape [2, 3]"));
        let (res, _) = run("copy_", "", vec![arg(&f32s(&[3], 3)), arg(&f32s(&[4], 4))]);
        assert!(res
            .unwrap_err()
            .message
            .contains("The size of tensor a (3) must match the size of tensor b (4)"));
        let (_, fake) = run("copy_", "", vec![arg(&dst), arg(&dst)]);
        assert!(fake.calls.is_empty());
    }

    #[test]
    fn to_copy_and_clone_preserve_layout() {
        // empty(3, 4).t().to(half) keeps strides (1, 4); empty(4, 6)[:, ::2].clone() is (3, 1)
        let mut xt = f32s(&[4, 3], 1);
        xt.strides = vec![1, 4];
        let (res, fake) = run(
            "_to_copy",
            "",
            vec![arg(&xt), Arg::Dtype(ScalarType::Float16)],
        );
        assert_eq!(
            geometry(&meta(&res.unwrap(), 0)),
            (vec![4, 3], vec![1, 4], 0, ScalarType::Float16)
        );
        assert_eq!(fake.allocated, vec![(100, 24)]);
        assert_eq!(fake.calls[0].tensors[0], xt);
        let mut sliced = f32s(&[4, 3], 2);
        sliced.strides = vec![6, 2];
        let (res, _) = run("clone", "", vec![arg(&sliced)]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![3, 1]);
        let (res, _) = run("clone", "", vec![arg(&xt), Arg::Integer(0)]);
        assert_eq!(meta(&res.unwrap(), 0).strides, vec![3, 1]);
        let args = vec![arg(&xt), Arg::None, Arg::None, Arg::Str("cpu".into())];
        let (res, _) = run("_to_copy", "", args);
        assert_eq!(
            res.unwrap_err().kind,
            crate::types::ErrorKind::NotImplemented
        );
    }

    #[test]
    fn resize_grows_into_a_new_storage_with_the_old_bytes() {
        let x = f32s(&[4], 1);
        let (res, fake) = run_sized("resize_", "", vec![arg(&x), Arg::IntList(vec![2, 3])], 20);
        let outputs = res.unwrap();
        let Output::Updated((0, t)) = &outputs[0] else {
            panic!("{outputs:?}")
        };
        assert_eq!(
            geometry(t),
            (vec![2, 3], vec![3, 1], 0, ScalarType::Float32)
        );
        assert_eq!((t.storage, fake.allocated.clone()), (100, vec![(100, 24)]));
        // The storage holds 20 bytes, all of which move, past the tensor's own 16 too.
        assert_eq!(fake.kernels(), vec!["data_size", "copy"]);
        let source = &fake.calls[1].tensors[0];
        assert_eq!(
            (source.sizes.clone(), source.dtype, source.storage),
            (vec![20], ScalarType::Uint8, 1)
        );
        // A storage with room keeps the tensor, as PyTorch grows a view in place.
        let (res, fake) = run_sized("resize_", "", vec![arg(&x), Arg::IntList(vec![2, 3])], 24);
        let t = meta(&res.unwrap(), 0);
        assert_eq!((t.storage, t.sizes), (1, vec![2, 3]));
        assert!(fake.allocated.is_empty());
        // a shrinking resize keeps the storage and the offset
        let mut view = f32s(&[2], 2);
        view.storage_offset = 2;
        let (res, _) = run("resize_", "", vec![arg(&view), Arg::IntList(vec![1])]);
        let t = meta(&res.unwrap(), 0);
        assert_eq!((t.storage, t.storage_offset, t.strides), (2, 2, vec![1]));
        let (res, fake) = run("resize_", "", vec![arg(&x), Arg::IntList(vec![4])]);
        assert_eq!(res.unwrap(), vec![Output::Argument(0)]);
        assert!(fake.allocated.is_empty());
        let (res, _) = run("resize_", "", vec![arg(&x), Arg::IntList(vec![-4])]);
        assert!(res.unwrap_err().message.contains("negative dimension"));
    }

    #[test]
    fn copy_from_and_resize_resizes_dst() {
        let (src, dst) = (f32s(&[2, 3], 1), f32s(&[0], 2));
        let (res, fake) = run("_copy_from_and_resize", "", vec![arg(&src), arg(&dst)]);
        let t = meta(&res.unwrap(), 0);
        assert_eq!((t.sizes, t.storage), (vec![2, 3], 100));
        assert_eq!(fake.kernels(), vec!["data_size", "copy"]);
        let (res, _) = run("_copy_from", "", vec![arg(&src), arg(&f32s(&[2, 3], 3))]);
        assert_eq!(res.unwrap(), vec![Output::Argument(1)]);
    }
}
