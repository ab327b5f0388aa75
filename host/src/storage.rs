//! The storages of one session: flat byte tensors on the compute device, keyed by the
//! client's ids, and the bounds-checked strided views that kernels read and write.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use tch::{Device, Kind, Tensor};

use crate::guest::{ScalarType, TensorMeta};
use crate::kernels::err;
use crate::memo::StorageMap;
use crate::payload::Payload;

/// The libtorch element type of a WIT dtype.
pub fn kind_of(dtype: ScalarType) -> Kind {
    match dtype {
        ScalarType::Uint8 => Kind::Uint8,
        ScalarType::Int8 => Kind::Int8,
        ScalarType::Int16 => Kind::Int16,
        ScalarType::Int32 => Kind::Int,
        ScalarType::Int64 => Kind::Int64,
        ScalarType::Float16 => Kind::Half,
        ScalarType::Float32 => Kind::Float,
        ScalarType::Float64 => Kind::Double,
        ScalarType::Bool => Kind::Bool,
        ScalarType::Bfloat16 => Kind::BFloat16,
        ScalarType::Complex64 => Kind::ComplexFloat,
        ScalarType::Complex128 => Kind::ComplexDouble,
    }
}

/// Bytes per element of a WIT dtype.
pub fn itemsize(dtype: ScalarType) -> u64 {
    kind_of(dtype).elt_size_in_bytes() as u64
}

/// Bytes a view reaches into its storage: offset plus its furthest element, or 0 when empty.
pub fn extent_bytes(meta: &TensorMeta) -> Result<u64, String> {
    let bad = || format!("invalid tensor metadata {meta:?}");
    if meta.sizes.len() != meta.strides.len() || meta.storage_offset < 0 {
        return Err(bad());
    }
    let mut last: u64 = 0;
    for (&size, &stride) in meta.sizes.iter().zip(&meta.strides) {
        if size < 0 || stride < 0 {
            return Err(bad());
        }
        if size == 0 {
            return Ok(0);
        }
        let reach = (size as u64 - 1)
            .checked_mul(stride as u64)
            .ok_or_else(bad)?;
        last = last.checked_add(reach).ok_or_else(bad)?;
    }
    last.checked_add(meta.storage_offset as u64)
        .and_then(|l| l.checked_add(1))
        .and_then(|n| n.checked_mul(itemsize(meta.dtype)))
        .ok_or_else(bad)
}

/// The memory of one storage, kept alive by the tensor that owns it. A storage an op creates
/// gets its memory when a kernel first views it: most become their kernel's result instead
/// ([`Storages::adopt`]), and an allocation they would not use costs as much as a tiny op.
struct Stored {
    owner: OnceCell<Tensor>,
    nbytes: u64,
}

impl Stored {
    fn new(owner: Tensor, nbytes: u64) -> Self {
        Self {
            owner: OnceCell::from(owner),
            nbytes,
        }
    }

    fn pending(nbytes: u64) -> Self {
        Self {
            owner: OnceCell::new(),
            nbytes,
        }
    }

    /// The start of the storage's memory, allocated on `device` now if it has none yet.
    fn base(&self, device: Device) -> Result<usize, String> {
        if let Some(owner) = self.owner.get() {
            return Ok(owner.data_ptr() as usize);
        }
        let bytes = zeroed(self.nbytes, device)?;
        Ok(self.owner.get_or_init(|| bytes).data_ptr() as usize)
    }

    /// Its memory, if it has any yet (none overlaps what it does not have).
    fn span(&self) -> Span {
        self.owner
            .get()
            .map_or((0, 0), |owner| (owner.data_ptr() as usize, self.nbytes))
    }
}

/// Memory for a storage whose bytes no kernel has written. Zeroed: the allocators' caches
/// (libtorch's CUDA one, the host's CPU one) are the process's, shared by every session, so
/// an uninitialised block may hold bytes another client freed; a CPU `torch.empty` in another
/// process, or CUDA's in another process, never shows them.
fn zeroed(nbytes: u64, device: Device) -> Result<Tensor, String> {
    Tensor::f_zeros([nbytes as i64], (Kind::Uint8, device))
        .map_err(|e| format!("cannot allocate {nbytes} bytes on {device:?}: {}", err(e)))
}

/// Start address and length of a storage's memory.
type Span = (usize, u64);

fn overlap((a, m): Span, (b, n): Span) -> bool {
    a < b.saturating_add(n as usize) && b < a.saturating_add(m as usize)
}

/// What one op has done with storages so far, for deciding when a result may become a
/// storage instead of being copied into one.
#[derive(Default)]
struct OpScope {
    active: bool,
    /// Storages the op created.
    created: Vec<u64>,
    /// Memory the op has viewed or taken as a storage; a result overlapping it aliases
    /// something that lives on.
    touched: RefCell<Vec<Span>>,
    /// The peak before the op: a storage that could not be had never counts toward it, as
    /// CUDA's allocator counts no failed allocation.
    peak_before: u64,
}

/// Live storages of a session.
pub struct Storages {
    device: Device,
    map: HashMap<u64, Stored>,
    bytes: u64,
    /// The most `bytes` has been since the session began or `reset_peak`.
    peak: u64,
    /// While a recorded op is replayed: its storage ids to the ones of the op now.
    replayed: StorageMap,
    scope: OpScope,
}

impl Storages {
    pub fn new(device: Device) -> Self {
        Self {
            device,
            map: HashMap::new(),
            bytes: 0,
            peak: 0,
            replayed: StorageMap::default(),
            scope: OpScope::default(),
        }
    }

    /// Starts an op: the storages it allocates from now on may take over its results.
    pub fn begin_op(&mut self) {
        self.scope.active = true;
        self.scope.created.clear();
        self.scope.touched.get_mut().clear();
        self.scope.peak_before = self.peak;
    }

    /// Ends the op: what it created and left unwritten gets its memory now, so that a
    /// storage too large to hold fails at the op that made it, as it would on the CPU.
    pub fn end_op(&mut self) -> Result<(), String> {
        self.scope.active = false;
        self.scope.touched.get_mut().clear();
        let mut outcome = Ok(());
        for id in std::mem::take(&mut self.scope.created) {
            let Some(stored) = self.map.get(&id) else {
                continue;
            };
            if let Err(e) = stored.base(self.device) {
                self.bytes -= stored.nbytes;
                self.map.remove(&id);
                outcome = outcome.and(Err(e));
            }
        }
        if outcome.is_err() {
            self.peak = self.scope.peak_before.max(self.bytes);
        }
        outcome
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Live storage count and bytes.
    pub fn usage(&self) -> (u64, u64) {
        (self.map.len() as u64, self.bytes)
    }

    /// The most bytes live at once since the session began or the last `reset_peak`.
    pub fn peak(&self) -> u64 {
        self.peak
    }

    pub fn reset_peak(&mut self) {
        self.peak = self.bytes;
    }

    /// Makes the ids that kernels name go through `map` (empty: ids are taken as they are).
    pub fn set_map(&mut self, map: StorageMap) {
        self.replayed = map;
    }

    fn resolve(&self, id: u64) -> u64 {
        if self.replayed.is_empty() {
            id
        } else {
            self.replayed.get(id)
        }
    }

    /// A new storage the client takes as uninitialised; one an op creates gets its memory
    /// when first viewed.
    pub fn alloc(&mut self, id: u64, nbytes: u64) -> Result<(), String> {
        let id = self.resolve(id);
        if !self.scope.active {
            let bytes = zeroed(nbytes, self.device)?;
            return self.insert(id, Stored::new(bytes, nbytes));
        }
        self.insert(id, Stored::pending(nbytes))?;
        self.scope.created.push(id);
        Ok(())
    }

    /// Makes `result` the memory of `out`'s storage instead of copying it there, when that
    /// is the same: a storage this op created and nothing has seen yet, laid out exactly as
    /// `result` is, and `result`'s memory shared with no storage. A result whose values are
    /// not its memory as it lies (a lazy conjugate or negation, a storage-less zero tensor)
    /// is copied instead. Returns whether it did.
    pub fn adopt(&mut self, out: &TensorMeta, result: &Tensor) -> bool {
        let id = self.resolve(out.storage);
        if out.storage_offset != 0 || !self.scope.created.contains(&id) {
            return false;
        }
        let Some(stored) = self.map.get(&id) else {
            return false;
        };
        let nbytes = stored.nbytes;
        let span = (result.data_ptr() as usize, nbytes);
        let touched = self.scope.touched.get_mut();
        let fits = nbytes > 0
            && extent_bytes(out) == Ok(nbytes)
            && result.stride() == out.strides
            && result.device() == self.device
            && !result.is_neg()
            && !result.is_conj()
            && !result.internal_is_zerotensor()
            && !result.is_sparse();
        if !fits
            || touched
                .iter()
                .any(|&t| overlap(t, span) || overlap(t, stored.span()))
        {
            return false;
        }
        touched.push(span);
        self.map
            .insert(id, Stored::new(result.shallow_clone(), nbytes));
        true
    }

    /// Replaces the bytes of storage `id` with `data`, of the same size.
    pub fn replace(&mut self, id: u64, data: Payload) -> Result<(), String> {
        let have = self
            .map
            .get(&id)
            .ok_or_else(|| format!("storage {id} does not exist"))?
            .nbytes as usize;
        if have != data.len() {
            return Err(format!(
                "storage {id} holds {have} bytes, the client sent {}",
                data.len()
            ));
        }
        let bytes = data.into_tensor()?.f_to_device(self.device).map_err(err)?;
        self.map.insert(id, Stored::new(bytes, have as u64));
        Ok(())
    }

    /// A new storage holding `data`.
    pub fn upload(&mut self, id: u64, data: Payload) -> Result<(), String> {
        let bytes = data.into_tensor()?.f_to_device(self.device).map_err(err)?;
        let nbytes = bytes.numel() as u64;
        self.insert(id, Stored::new(bytes, nbytes))
    }

    fn insert(&mut self, id: u64, stored: Stored) -> Result<(), String> {
        if self.map.contains_key(&id) {
            return Err(format!("storage {id} already exists"));
        }
        self.bytes += stored.nbytes;
        self.peak = self.peak.max(self.bytes);
        self.map.insert(id, stored);
        Ok(())
    }

    /// The bytes of storage `id`, if it is live.
    pub fn nbytes(&self, id: u64) -> Option<u64> {
        self.map.get(&self.resolve(id)).map(|s| s.nbytes)
    }

    pub fn free(&mut self, id: u64) {
        let id = self.resolve(id);
        if let Some(stored) = self.map.remove(&id) {
            self.bytes -= stored.nbytes;
        }
    }

    /// The strided tensor `meta` describes, aliasing its storage. Fails unless the view
    /// lies wholly inside the storage, so no metadata can reach foreign memory.
    pub fn view(&self, meta: &TensorMeta) -> Result<Tensor, String> {
        let id = self.resolve(meta.storage);
        let storage = self
            .map
            .get(&id)
            .ok_or_else(|| format!("storage {id} does not exist"))?;
        let extent = extent_bytes(meta)?;
        let have = storage.nbytes;
        if extent > have {
            return Err(format!(
                "view {meta:?} needs {extent} bytes but its storage has {have}"
            ));
        }
        let base = storage.base(self.device)? as *const u8;
        if self.scope.active {
            self.scope.touched.borrow_mut().push(storage.span());
        }
        let offset = meta.storage_offset as u64 * itemsize(meta.dtype);
        // SAFETY: the view lies inside the storage (checked above), and the storage's memory
        // outlives every kernel call: the session owns it until a later `Free`, and `adopt`
        // replaces no memory that a view was taken of in the op running.
        let data = if extent == 0 {
            base
        } else {
            unsafe { base.add(offset as usize) }
        };
        unsafe {
            Tensor::f_from_blob(
                data,
                &meta.sizes,
                &meta.strides,
                kind_of(meta.dtype),
                self.device,
            )
        }
        .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOAT: (Kind, Device) = (Kind::Float, Device::Cpu);

    fn meta(sizes: &[i64], strides: &[i64], offset: i64, storage: u64) -> TensorMeta {
        TensorMeta {
            sizes: sizes.to_vec(),
            strides: strides.to_vec(),
            storage_offset: offset,
            dtype: ScalarType::Float32,
            storage,
        }
    }

    #[test]
    fn a_storage_that_cannot_be_had_leaves_the_peak_alone() {
        let mut storages = Storages::new(Device::Cpu);
        storages.alloc(1, 64).unwrap();
        storages.begin_op();
        storages.alloc(2, 1 << 60).unwrap();
        assert!(storages.end_op().is_err());
        assert_eq!((storages.usage(), storages.peak()), ((1, 64), 64));
    }

    #[test]
    fn views_alias_their_storage() {
        let mut storages = Storages::new(Device::Cpu);
        let values: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        storages.upload(1, Payload::Bytes(values)).unwrap();
        let column = storages.view(&meta(&[2], &[3], 1, 1)).unwrap();
        assert_eq!(Vec::<f32>::try_from(&column).unwrap(), vec![2., 5.]);
        let mut first = storages.view(&meta(&[1], &[1], 0, 1)).unwrap();
        let _ = first.fill_(9.0);
        let all = storages.view(&meta(&[6], &[1], 0, 1)).unwrap();
        assert_eq!(Vec::<f32>::try_from(&all).unwrap()[0], 9.0);
        assert_eq!(storages.usage(), (1, 24));
    }

    #[test]
    fn replacing_keeps_the_size_and_takes_the_bytes() {
        let mut storages = Storages::new(Device::Cpu);
        storages.alloc(1, 8).unwrap();
        let mut payload = Payload::with_len(8).unwrap();
        payload
            .as_bytes_mut()
            .copy_from_slice(&[7, 0, 0, 0, 8, 0, 0, 0]);
        storages.replace(1, payload).unwrap();
        let mut ints = meta(&[2], &[1], 0, 1);
        ints.dtype = ScalarType::Int32;
        let view = storages.view(&ints).unwrap();
        assert_eq!(Vec::<i32>::try_from(&view).unwrap(), vec![7, 8]);
        assert!(storages.replace(1, Payload::Bytes(vec![0; 4])).is_err());
        assert!(storages.replace(2, Payload::Bytes(vec![0; 8])).is_err());
        assert_eq!(storages.usage(), (1, 8));
    }

    fn values(storages: &Storages, meta: &TensorMeta) -> Vec<f32> {
        Vec::<f32>::try_from(&storages.view(meta).unwrap().flatten(0, -1)).unwrap()
    }

    #[test]
    fn a_new_storage_takes_over_a_result_laid_out_as_it_is() {
        let mut storages = Storages::new(Device::Cpu);
        storages.begin_op();
        storages.alloc(1, 24).unwrap();
        let out = meta(&[2, 3], &[3, 1], 0, 1);
        let result = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6.]).reshape([2, 3]);
        assert!(!storages.adopt(&out, &result.tr()), "strides differ");
        assert!(storages.adopt(&out, &result));
        assert_eq!(values(&storages, &out), [1., 2., 3., 4., 5., 6.]);
        assert_eq!(storages.usage(), (1, 24));
    }

    #[test]
    fn results_sharing_memory_with_a_storage_are_not_taken_over() {
        let mut storages = Storages::new(Device::Cpu);
        storages.alloc(1, 24).unwrap();
        storages.begin_op();
        assert!(
            !storages.adopt(&meta(&[6], &[1], 0, 1), &Tensor::zeros([6], FLOAT)),
            "storage 1 is older than the op"
        );
        storages.alloc(2, 24).unwrap();
        storages.alloc(3, 24).unwrap();
        let input = storages.view(&meta(&[6], &[1], 0, 1)).unwrap();
        assert!(
            !storages.adopt(&meta(&[6], &[1], 0, 2), &input),
            "the input's own memory"
        );
        let _seen = storages.view(&meta(&[6], &[1], 0, 2)).unwrap();
        assert!(
            !storages.adopt(&meta(&[6], &[1], 0, 2), &Tensor::zeros([6], FLOAT)),
            "storage 2 has been viewed in this op"
        );
        let result = Tensor::zeros([6], FLOAT);
        assert!(storages.adopt(&meta(&[6], &[1], 0, 3), &result));
        storages.alloc(4, 24).unwrap();
        assert!(
            !storages.adopt(&meta(&[6], &[1], 0, 4), &result),
            "storage 3 holds it"
        );
        storages.end_op().unwrap();
    }

    #[test]
    fn an_ops_storages_get_memory_when_viewed_or_at_its_end() {
        let mut storages = Storages::new(Device::Cpu);
        storages.begin_op();
        storages.alloc(1, 24).unwrap();
        storages.alloc(2, 24).unwrap();
        storages.alloc(3, 1 << 62).unwrap();
        assert_eq!(
            storages.map[&1].span(),
            (0, 0),
            "no memory before a kernel needs it"
        );
        let result = Tensor::ones([6], FLOAT);
        assert!(storages.adopt(&meta(&[6], &[1], 0, 1), &result));
        assert_eq!(storages.map[&1].span().0, result.data_ptr() as usize);
        let error = storages.end_op().unwrap_err();
        assert!(error.contains("cannot allocate"), "{error}");
        assert_ne!(
            storages.map[&2].span(),
            (0, 0),
            "the unwritten one got memory"
        );
        assert_eq!(values(&storages, &meta(&[6], &[1], 0, 1)), vec![1.0; 6]);
        assert_eq!(
            storages.usage(),
            (2, 48),
            "the one it could not hold is gone"
        );
    }

    #[test]
    fn views_outside_their_storage_are_refused() {
        let mut storages = Storages::new(Device::Cpu);
        storages.alloc(1, 16).unwrap();
        assert!(storages.view(&meta(&[5], &[1], 0, 1)).is_err());
        assert!(storages.view(&meta(&[2], &[1], 3, 1)).is_err());
        assert!(storages.view(&meta(&[2], &[-1], 1, 1)).is_err());
        assert!(storages.view(&meta(&[2], &[i64::MAX], 0, 1)).is_err());
        assert!(storages.view(&meta(&[4], &[1], 0, 2)).is_err());
        assert!(storages.view(&meta(&[0], &[1], 100, 1)).is_ok());
        assert!(storages.alloc(1, 4).is_err());
        storages.free(1);
        assert_eq!(storages.usage(), (0, 0));
    }
}
