//! `Ctx`: what a handler works with. It holds the kernels and the client's settings,
//! remembers the storages the op allocated, so that an op that fails gives all of them back,
//! and collects its warnings.

use crate::error::{ensure, Error, Result};
use crate::kernels::{failed, Kernels};
use crate::rules::layout::contiguous_strides;
use crate::rules::propagate::preserve_strides;
use crate::rules::shape::{extent, fmt_shape, nbytes, numel};
use crate::types::{
    CpuConvolutions, Determinism, OpSettings, Scalar, ScalarType, SizeQuery, StorageId, TensorMeta,
    Warning,
};

pub struct Ctx<'k> {
    pub k: &'k mut dyn Kernels,
    settings: OpSettings,
    fresh: Vec<StorageId>,
    pub warnings: Vec<Warning>,
}

impl<'k> Ctx<'k> {
    pub fn new(k: &'k mut dyn Kernels, settings: OpSettings) -> Self {
        Ctx {
            k,
            settings,
            fresh: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// What the client's CPU convolutions choose their kernels by.
    pub fn convolutions(&self) -> CpuConvolutions {
        self.settings.convolutions
    }

    /// `alertNotDeterministic(caller)`: under `torch.use_deterministic_algorithms(True)` an op
    /// without a deterministic implementation fails, or with `warn_only=True` warns.
    pub fn alert_not_deterministic(&mut self, caller: &str) -> Result<()> {
        const ISSUES: &str = "file an issue at https://github.com/pytorch/pytorch/issues to help \
                              us prioritize adding deterministic support for this operation.";
        let unsupported = format!("{caller} does not have a deterministic implementation");
        match self.settings.determinism {
            Determinism::Off => Ok(()),
            Determinism::WarnOnly => {
                self.warn(format!(
                    "{unsupported}, but you set 'torch.use_deterministic_algorithms(True, \
                     warn_only=True)'. You can {ISSUES}"
                ));
                Ok(())
            }
            Determinism::Required => Err(Error::invalid(format!(
                "{unsupported}, but you set 'torch.use_deterministic_algorithms(True)'. You can \
                 turn off determinism just for this operation, or you can use the \
                 'warn_only=True' option, if that's acceptable for your application. You can \
                 also {ISSUES}"
            ))),
        }
    }

    /// `fill_empty_deterministic_`: when the client asked for uninitialised memory to be
    /// filled, `t` (memory an op leaves uninitialised) holds NaN, or its integer type's largest
    /// value.
    pub fn fill_uninitialized(&mut self, t: &TensorMeta) -> Result<()> {
        if !self.settings.fill_uninitialized_memory || numel(&t.sizes)? == 0 {
            return Ok(());
        }
        let value = match t.dtype {
            ScalarType::Bool => Scalar::Boolean(true),
            ScalarType::Int64 => Scalar::Integer(i64::MAX),
            d if d.is_integral(false) => Scalar::Integer(d.limits().1 as i64),
            _ => Scalar::Float(f64::NAN),
        };
        self.k.fill(t, value).map_err(failed("fill"))
    }

    /// `TORCH_WARN(message)`.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(Warning {
            message: message.into(),
            once: false,
        });
    }

    /// `TORCH_WARN_ONCE(message)`.
    pub fn warn_once(&mut self, message: impl Into<String>) {
        self.warnings.push(Warning {
            message: message.into(),
            once: true,
        });
    }

    /// Whether this op allocated storage `id` (and has not given it back).
    pub fn allocated(&self, id: StorageId) -> bool {
        self.fresh.contains(&id)
    }

    fn storage(&mut self, elements: i64, dtype: ScalarType) -> Result<StorageId> {
        let id = self.k.new_storage(nbytes(elements, dtype.itemsize())?);
        self.fresh.push(id);
        Ok(id)
    }

    /// A tensor with `strides` on a new storage just big enough for it.
    pub fn empty(
        &mut self,
        sizes: &[i64],
        strides: Vec<i64>,
        dtype: ScalarType,
    ) -> Result<TensorMeta> {
        numel(sizes)?;
        let storage = self.storage(extent(sizes, &strides)?, dtype)?;
        Ok(TensorMeta {
            sizes: sizes.to_vec(),
            strides,
            storage_offset: 0,
            dtype,
            storage,
        })
    }

    pub fn empty_contiguous(&mut self, sizes: &[i64], dtype: ScalarType) -> Result<TensorMeta> {
        let strides = contiguous_strides(sizes)?;
        self.empty(sizes, strides, dtype)
    }

    /// `empty_like(t)`: `t`'s strides when it is dense, else contiguous.
    pub fn empty_like(&mut self, t: &TensorMeta) -> Result<TensorMeta> {
        self.empty(&t.sizes, preserve_strides(t)?, t.dtype)
    }

    /// Gives back a temporary from `empty`.
    pub fn free(&mut self, t: &TensorMeta) {
        self.fresh.retain(|id| *id != t.storage);
        self.k.free_storage(t.storage);
    }

    /// Gives back every storage this op allocated; for ops that failed.
    pub fn abandon(self) {
        for id in self.fresh {
            self.k.free_storage(id);
        }
    }

    /// `resize_output`: the `out=` tensor `t` resized to `sizes` (laid out by `strides`),
    /// with PyTorch's warning where `t` had elements.
    pub fn resize_out(
        &mut self,
        t: &TensorMeta,
        sizes: &[i64],
        strides: Vec<i64>,
    ) -> Result<TensorMeta> {
        self.warn_resized(t, sizes)?;
        self.resize(t, sizes, strides)
    }

    /// `resize_output`'s warning, for an `out=` `t` with elements resized to `sizes`.
    pub fn warn_resized(&mut self, t: &TensorMeta, sizes: &[i64]) -> Result<()> {
        if numel(&t.sizes)? != 0 {
            self.warn(format!(
                "An output with one or more elements was resized since it had shape {}, which \
                 does not match the required output shape {}. This behavior is deprecated, and \
                 in a future PyTorch release outputs will not be resized unless they have zero \
                 elements. You can explicitly reuse an out tensor t by resizing it, inplace, to \
                 zero elements with t.resize_(0).",
                fmt_shape(&t.sizes),
                fmt_shape(sizes)
            ));
        }
        Ok(())
    }

    /// `t` with new sizes and strides at the same offset (`resize_`). The storage is kept when
    /// the elements `t` spans hold the new tensor. Otherwise it grows as PyTorch grows it, in
    /// place: a larger new storage takes all of the old one's bytes, and the client moves
    /// every tensor sharing the old storage to it (see `output::updated` in the WIT).
    pub fn resize(
        &mut self,
        t: &TensorMeta,
        sizes: &[i64],
        strides: Vec<i64>,
    ) -> Result<TensorMeta> {
        numel(sizes)?;
        let needed = extent_from_start(t.storage_offset, sizes, &strides)?;
        let held = extent_from_start(t.storage_offset, &t.sizes, &t.strides)?;
        let mut out = t.view(sizes.to_vec(), strides, t.storage_offset);
        if needed <= held {
            return Ok(out);
        }
        let old_bytes = self.storage_bytes(t)?;
        if nbytes(needed, t.dtype.itemsize())? <= old_bytes {
            return Ok(out);
        }
        out.storage = self.storage(needed, t.dtype)?;
        if old_bytes > 0 {
            let bytes = |storage| TensorMeta {
                sizes: vec![old_bytes as i64],
                strides: vec![1],
                storage_offset: 0,
                dtype: ScalarType::Uint8,
                storage,
            };
            self.k
                .copy(&bytes(t.storage), &bytes(out.storage))
                .map_err(failed("copy"))?;
        }
        // The elements past the old storage's whole ones, as `fill_resize_deterministic_`.
        let kept = old_bytes as i64 / t.dtype.itemsize();
        let added = out.view(vec![needed - kept], vec![1], kept);
        self.fill_uninitialized(&added)?;
        Ok(out)
    }
}

impl Ctx<'_> {
    /// The bytes of `t`'s storage. Any tensor may sit in a larger storage (one resized to no
    /// elements keeps all of its own, as does an empty slice), so each asks: the answer is the
    /// client's, not a value.
    fn storage_bytes(&mut self, t: &TensorMeta) -> Result<u64> {
        let bytes = self
            .k
            .data_size(SizeQuery::StorageBytes, t)
            .map_err(failed("data_size"))?;
        Ok(bytes as u64)
    }
}

impl Ctx<'_> {
    /// `checkInBoundsForStorage`: `view`, made over `t`'s storage, lies within it. Only a
    /// view reaching past `t`'s own elements asks the storage's size.
    pub fn check_in_storage(&mut self, t: &TensorMeta, view: &TensorMeta) -> Result<()> {
        let needed = extent_from_start(view.storage_offset, &view.sizes, &view.strides)?;
        let held = extent_from_start(t.storage_offset, &t.sizes, &t.strides)?;
        if needed <= held {
            return Ok(());
        }
        let bytes = self
            .k
            .data_size(SizeQuery::StorageBytes, t)
            .map_err(failed("data_size"))?;
        let itemsize = t.dtype.itemsize();
        let required = nbytes(needed, itemsize)?;
        ensure!(
            required <= bytes as u64,
            "setStorage: sizes {}, strides {}, storage offset {}, and itemsize {itemsize} \
             requiring a storage size of {required} are out of bounds for storage of size {bytes}",
            fmt_shape(&view.sizes),
            fmt_shape(&view.strides),
            view.storage_offset
        );
        Ok(())
    }
}

/// Elements from the storage's start to the end of a tensor; 0 for an empty tensor, whose
/// storage may hold nothing.
fn extent_from_start(offset: i64, sizes: &[i64], strides: &[i64]) -> Result<i64> {
    let span = extent(sizes, strides)?;
    if span == 0 {
        return Ok(0);
    }
    Ok(offset.saturating_add(span))
}
