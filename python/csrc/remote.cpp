// The PrivateUse1 integration of torch-remote: allocator, device guard, hooks and the boxed
// fallback that hands every aten op on `remote` to the Rust core (src/ffi.rs). No op
// semantics live here: the guest decides every output's metadata; this file only turns
// PyTorch values into the core's arguments and the core's answers into tensors.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/SDPBackend.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/PrivateUse1HooksInterface.h>
#include <ATen/ops/_fused_sdp_choice_native.h>
#include <ATen/native/transformers/attention.h>
#include <c10/core/Allocator.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/ApproximateClock.h>
#include <torch/csrc/profiler/stubs/base.h>
#include <torch/library.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

extern "C" {
// A tensor as the core sees it; `sizes` and `strides` hold `ndim` entries.
struct TrMeta {
  const int64_t* sizes;
  const int64_t* strides;
  uint64_t ndim;
  int64_t offset;
  int32_t dtype;
  uint64_t storage;
};

uint64_t tr_storage_alloc(uint64_t nbytes, int32_t device);
const char* tr_last_error();
uint64_t tr_storage_resize(uint64_t id, uint64_t old_nbytes, uint64_t new_nbytes);
void tr_generator_seed(int32_t device, uint64_t generator, uint64_t seed, uint64_t offset);
const char* tr_generator_state(int32_t device, uint64_t generator, uint64_t* seed, uint64_t* offset);
void tr_storage_release(uint64_t id);
void tr_generator_release(int32_t device, uint64_t id);
bool tr_out_of_memory(const char* message);
int32_t tr_device_count();
int32_t tr_max_devices();
void* tr_args_new();
void tr_args_free(void* args);
void tr_args_tensor(void* args, const TrMeta* meta, int32_t optional);
void tr_args_list_begin(void* args);
void tr_args_list_end(void* args);
void tr_args_optional_list_begin(void* args);
void tr_args_int(void* args, int64_t value);
void tr_args_float(void* args, double value);
void tr_args_bool(void* args, int32_t value);
void tr_args_int_list(void* args, const int64_t* values, uint64_t len);
void tr_args_scalar_int(void* args, int64_t value);
void tr_args_scalar_float(void* args, double value);
void tr_args_scalar_bool(void* args, int32_t value);
void tr_args_scalar_complex(void* args, double re, double im);
void tr_args_dtype(void* args, int32_t dtype);
void tr_args_none(void* args);
void tr_args_generator(void* args, uint64_t id);
void tr_args_str(void* args, const char* value, uint64_t len);
void* tr_dispatch(void* args, const char* name, const char* overload, int32_t default_dtype, int32_t flags,
                  int32_t device);
const char* tr_result_error(const void* result, int32_t* kind);
uint64_t tr_result_len(const void* result);
int32_t tr_result_kind(const void* result, uint64_t i);
uint32_t tr_result_arg(const void* result, uint64_t i);
uint64_t tr_result_list_len(const void* result, uint64_t i);
int32_t tr_result_meta(const void* result, uint64_t i, uint64_t j, TrMeta* meta, uint64_t* nbytes);
uint64_t tr_result_warning_count(const void* result);
const char* tr_result_warning(const void* result, uint64_t i, uint64_t* len, int32_t* once);
void tr_result_free(void* result);
void* tr_upload(const TrMeta* dst, int32_t src_dtype, const int64_t* src_sizes, uint64_t ndim, const void* data,
                uint64_t nbytes);
const char* tr_download(const TrMeta* src, void* out, uint64_t nbytes);
const char* tr_synchronize(int32_t device);
const char* tr_wait(int32_t device);
const char* tr_memory(int32_t device, uint64_t* current, uint64_t* peak);
const char* tr_memory_info(int32_t device, uint64_t* free, uint64_t* total);
const char* tr_reset_peak(int32_t device);
const char* tr_empty_cache(int32_t device);
}

namespace torch_remote {
namespace {

constexpr auto kRemote = c10::DeviceType::PrivateUse1;
// Each thread's own, as CUDA's current device is: a thread (autograd's for a device among
// them) that makes another device current leaves the rest alone.
thread_local c10::DeviceIndex g_current_device = 0;

// The result kinds of tr_result_kind, in the order of the WIT `output` variant.
enum OutputKind : int32_t { kArgument = 0, kUpdated = 1, kTensor = 2, kTensorList = 3, kNone = 4 };
// The error kinds of tr_result_error, in the order of the WIT `error-kind` enum.
enum ErrorKind : int32_t {
  kInvalidArgument = 0,
  kNotImplemented = 1,
  kKernelFailed = 2,
  kIndex = 3,
  kValue = 4,
  kLinalg = 5,
  kType = 6,
};

// A host failure raised at a wait is a RuntimeError, as CUDA's asynchronous failures are;
// running out of memory is `torch.OutOfMemoryError`, as on CUDA.
[[noreturn]] void raise(const std::string& message, int32_t kind) {
  TORCH_CHECK_LINALG(kind != kLinalg, message);
  if (kind == kNotImplemented) TORCH_CHECK_NOT_IMPLEMENTED(false, message);
  TORCH_CHECK_INDEX(kind != kIndex, message);
  TORCH_CHECK_VALUE(kind != kValue, message);
  TORCH_CHECK_TYPE(kind != kType, message);
  TORCH_CHECK_WITH(OutOfMemoryError, !tr_out_of_memory(message.c_str()), message);
  TORCH_CHECK(false, message);
}

void check(const char* error) {
  if (error != nullptr) raise(error, kInvalidArgument);
}

void release(void* ctx) { tr_storage_release(reinterpret_cast<uint64_t>(ctx)); }

// The data pointer names the storage; it is never dereferenced. Storages sit 4 GiB apart so
// PyTorch's overlap checks on pointers see distinct storages as disjoint.
c10::DataPtr data_ptr_for(uint64_t id, c10::DeviceIndex device) {
  return c10::DataPtr(reinterpret_cast<void*>(id << 32), reinterpret_cast<void*>(id), &release,
                      c10::Device(kRemote, device));
}

// Also the device allocator of `torch.accelerator`'s memory functions, whose figures are the
// host's: bytes held by this process's storages, now and at most.
struct RemoteAllocator final : c10::DeviceAllocator {
  c10::DataPtr allocate(size_t nbytes) override {
    const auto device = g_current_device;
    const uint64_t id = tr_storage_alloc(nbytes, device);
    TORCH_CHECK(id != 0, "remote: cannot allocate ", nbytes, " bytes on remote:", static_cast<int>(device), ": ",
                tr_last_error());
    return data_ptr_for(id, device);
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
  void copy_data(void*, const void*, std::size_t) const override {
    TORCH_CHECK(false, "remote storages cannot be copied through raw pointers; use Tensor.copy_");
  }
  bool initialized() override { return true; }
  // The host frees a storage's memory when PyTorch releases it, but keeps large CPU blocks
  // for reuse, for all its clients.
  void emptyCache(c10::MempoolId_t) override { check(tr_empty_cache(g_current_device)); }
  // A device runs its ops in order, so a storage is never reused while an op reads it.
  void recordStream(const c10::DataPtr&, c10::Stream) override {}
  c10::CachingDeviceAllocator::DeviceStats getDeviceStats(c10::DeviceIndex device) override {
    uint64_t current = 0, peak = 0;
    check(tr_memory(device, &current, &peak));
    c10::CachingDeviceAllocator::DeviceStats stats;
    for (auto* bytes : {&stats.allocated_bytes, &stats.reserved_bytes, &stats.active_bytes}) {
      auto& all = (*bytes)[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
      all.current = static_cast<int64_t>(current);
      all.peak = static_cast<int64_t>(peak);
    }
    return stats;
  }
  std::pair<size_t, size_t> getMemoryInfo(c10::DeviceIndex device) override {
    uint64_t free = 0, total = 0;
    check(tr_memory_info(device, &free, &total));
    return {static_cast<size_t>(free), static_cast<size_t>(total)};
  }
  void resetAccumulatedStats(c10::DeviceIndex) override {}
  void resetPeakStats(c10::DeviceIndex device) override { check(tr_reset_peak(device)); }
};

RemoteAllocator g_allocator;

// Host memory that `pin_memory()` and `.to("cpu", non_blocking=True)` ask for: plain CPU
// memory (the bytes travel through a socket, nothing maps them for DMA), remembered so that
// `is_pinned()` holds for what was pinned.
struct PinnedAllocator final : c10::Allocator {
  static std::mutex& lock() {
    static auto* m = new std::mutex;  // outlives the tensors freed at exit
    return *m;
  }
  static std::unordered_set<const void*>& live() {
    static auto* set = new std::unordered_set<const void*>;
    return *set;
  }
  static bool holds(const void* p) {
    std::lock_guard<std::mutex> guard(lock());
    return live().count(p) != 0;
  }
  static void release(void* p) {
    {
      std::lock_guard<std::mutex> guard(lock());
      live().erase(p);
    }
    c10::free_cpu(p);
  }
  c10::DataPtr allocate(size_t nbytes) override {
    void* p = c10::alloc_cpu(nbytes);
    {
      std::lock_guard<std::mutex> guard(lock());
      live().insert(p);
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

PinnedAllocator g_pinned;

c10::Storage make_storage(uint64_t id, uint64_t nbytes, c10::DeviceIndex device) {
  return c10::Storage(c10::Storage::use_byte_size_t(), nbytes, data_ptr_for(id, device), &g_allocator,
                      /*resizable=*/true);
}

// Where a storage's bytes are: the remote storage and a byte offset into it.
struct StoragePlace {
  uint64_t id;
  uint64_t byte_offset;
};

// The bit where storage ids keep their device (`DEVICE_SHIFT` in python/src/kernels.rs).
constexpr uint64_t kDeviceShift = 56;

// A storage made here holds its id as context. One that wraps a remote pointer made elsewhere
// (`from_blob`: serialization's device-to-host copy, DLPack) has only that pointer, which is
// the storage's (id << 32, so without the device bits) plus a byte offset.
StoragePlace place_of(const c10::Storage& s) {
  const auto& p = s.data_ptr();
  if (p.get_deleter() == &release) return {reinterpret_cast<uint64_t>(p.get_context()), 0};
  const auto ptr = reinterpret_cast<uint64_t>(p.get());
  const auto device = static_cast<uint64_t>(s.device().index());
  return {(ptr >> 32) | (device << kDeviceShift), ptr & 0xffffffffu};
}

uint64_t storage_id(const at::Tensor& t) { return place_of(t.storage()).id; }

std::string describe(const at::Tensor& t);

TrMeta meta_of(const at::Tensor& t) {
  const auto place = place_of(t.storage());
  const auto itemsize = static_cast<uint64_t>(t.element_size());
  TORCH_CHECK(place.byte_offset % itemsize == 0, "remote: ", describe(t), " starts ", place.byte_offset,
              " bytes into its storage, which is not a whole number of elements");
  const auto offset = t.storage_offset() + static_cast<int64_t>(place.byte_offset / itemsize);
  return TrMeta{t.sizes().data(), t.strides().data(), static_cast<uint64_t>(t.dim()), offset,
                static_cast<int32_t>(t.scalar_type()), place.id};
}

std::string describe(const at::Tensor& t) {
  std::string shape = "[";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  return c10::toString(t.scalar_type()) + std::string(shape) + "] on " + t.device().str();
}


c10::TypeKind element_kind(const c10::Argument& arg) {
  auto type = arg.real_type();
  if (auto optional = type->cast<c10::OptionalType>()) type = optional->getElementType();
  return type->kind();
}

// Turns a CPU tensor met among remote ones into an argument: Python numbers and 0-dim
// tensors are accepted as scalars (as CUDA does); anything else is a device mix-up.
at::Tensor on_remote(const at::Tensor& t, const std::string& op, c10::DeviceIndex device) {
  if (t.dim() == 0 && t.device().is_cpu()) {
    return t.to(c10::Device(kRemote, device));
  }
  // A CPU tensor indexed by remote indices (a schedule's table left on the CPU): PyTorch's
  // own words for it, which users search for.
  TORCH_CHECK(op != "index.Tensor", "indices should be either on cpu or on the same device as the indexed tensor (",
              t.device().str(), ")");
  TORCH_CHECK(false, op, ": Expected all tensors to be on the same device, but found at least two devices, remote:",
              static_cast<int>(device), " and ", t.device().str(), "! (a tensor ", describe(t),
              "; move it with .to(\"remote\") first)");
}

uint64_t generator_id(const at::Generator& g);

struct ArgBuilder {
  void* handle = tr_args_new();
  std::string op;
  c10::DeviceIndex device = 0;  // where CPU scalars and indices are uploaded to
  std::vector<at::Tensor> keep;  // uploads made for 0-dim CPU tensors

  ArgBuilder() = default;
  ArgBuilder(const ArgBuilder&) = delete;
  ArgBuilder& operator=(const ArgBuilder&) = delete;
  // An argument the guest cannot take leaves the list unsent.
  ~ArgBuilder() {
    if (handle != nullptr) tr_args_free(handle);
  }

  // Hands the list to `tr_dispatch`, which frees it.
  void* release() { return std::exchange(handle, nullptr); }

  // A CPU tensor the op would write: a 0-dim one is read as a scalar and written nowhere, so,
  // as on CUDA, an output must be on the device.
  void check_written(const at::Tensor& t, const c10::Argument& arg) const {
    TORCH_CHECK(!t.defined() || t.device().type() == kRemote,
                op, ": Expected all tensors to be on the same device, but found at least two devices, remote:",
                static_cast<int>(device), " and ", t.device().str(), "! (argument '", arg.name(),
                "', which the op writes, is ", describe(t), ")");
  }

  void tensor(const at::Tensor& t, int32_t optional) {
    if (!t.defined()) return tr_args_tensor(handle, nullptr, optional);
    if (t.device().type() == kRemote) {
      auto meta = meta_of(t);
      return tr_args_tensor(handle, &meta, optional);
    }
    if (t.unsafeGetTensorImpl()->is_wrapped_number() && optional == 0) return scalar(t.item());
    keep.push_back(on_remote(t, op, device));
    auto meta = meta_of(keep.back());
    tr_args_tensor(handle, &meta, optional);
  }

  // A storage (`set_.source_Storage`) travels as the Byte tensor that spans it.
  void storage(const c10::Storage& s) {
    TORCH_CHECK(s.device().type() == kRemote, op, ": expected a storage on remote, but got one on ",
                s.device().str(), "; move it with .to(\"remote\") first");
    const int64_t nbytes = static_cast<int64_t>(s.nbytes());
    const int64_t stride = 1;
    TrMeta meta{&nbytes, &stride, 1, 0, static_cast<int32_t>(c10::ScalarType::Byte), place_of(s).id};
    tr_args_tensor(handle, &meta, 0);
  }

  // The op draws from this generator: the host selects its state around the op.
  void generator(const at::Generator& g) {
    if (!g.defined()) return tr_args_none(handle);
    TORCH_CHECK(g.device().type() == kRemote, op, ": Expected a 'remote' device type for generator but found '",
                c10::DeviceTypeName(g.device().type(), /*lower_case=*/true), "'");
    tr_args_generator(handle, generator_id(g));
  }

  void scalar(const c10::Scalar& s) {
    if (s.isBoolean()) return tr_args_scalar_bool(handle, s.toBool());
    if (s.isIntegral(false)) return tr_args_scalar_int(handle, s.toLong());
    if (s.isComplex()) {
      const auto z = s.toComplexDouble();
      return tr_args_scalar_complex(handle, z.real(), z.imag());
    }
    tr_args_scalar_float(handle, s.toDouble());
  }

  void int_list(const c10::IValue& v) {
    std::vector<int64_t> values;
    // `bool[]` (a backward's output_mask) arrives as 0s and 1s.
    for (const auto& e : v.toListRef())
      values.push_back(e.isBool() ? int64_t{e.toBool()} : e.isSymInt() ? e.toSymInt().expect_int() : e.toInt());
    tr_args_int_list(handle, values.data(), values.size());
  }

  void add(const c10::IValue& v, const c10::Argument& arg) {
    const auto kind = element_kind(arg);
    const bool optional = arg.real_type()->kind() == c10::TypeKind::OptionalType;
    if (v.isNone()) return kind == c10::TypeKind::TensorType ? tensor(at::Tensor(), 1) : tr_args_none(handle);
    const bool written = arg.alias_info() && arg.alias_info()->isWrite();
    if (v.isTensor()) {
      if (written) check_written(v.toTensor(), arg);
      return tensor(v.toTensor(), optional ? 1 : 0);
    }
    // A `Tensor?[]` (advanced indexing): missing elements stay missing.
    const auto list_type = arg.real_type()->cast<c10::ListType>();
    const auto element = list_type ? list_type->getElementType()->cast<c10::OptionalType>() : nullptr;
    if (element && element->getElementType()->kind() == c10::TypeKind::TensorType) {
      tr_args_optional_list_begin(handle);
      for (const auto& e : v.toListRef()) {
        const auto t = e.isNone() ? at::Tensor() : e.toTensor();
        // As with CUDA, indices may be on the CPU: they are uploaded first.
        if (t.defined() && t.device().is_cpu()) {
          keep.push_back(t.to(c10::Device(kRemote, device)));
          tensor(keep.back(), 0);
        } else {
          tensor(t, 0);
        }
      }
      return tr_args_list_end(handle);
    }
    if (v.isTensorList() || (v.isList() && kind == c10::TypeKind::ListType &&
                             v.toListRef().size() > 0 && v.toListRef()[0].isTensor())) {
      tr_args_list_begin(handle);
      for (const auto& e : v.toListRef()) {
        const auto t = e.isNone() ? at::Tensor() : e.toTensor();
        if (written) check_written(t, arg);
        tensor(t, 0);
      }
      return tr_args_list_end(handle);
    }
    if (kind == c10::TypeKind::NumberType) return scalar(v.toScalar());
    if (kind == c10::TypeKind::ScalarTypeType) return tr_args_dtype(handle, static_cast<int32_t>(v.toScalarType()));
    if (kind == c10::TypeKind::MemoryFormatType) return tr_args_int(handle, static_cast<int64_t>(v.toMemoryFormat()));
    if (v.isBool()) return tr_args_bool(handle, v.toBool());
    if (v.isInt()) return tr_args_int(handle, v.toInt());
    if (v.isSymInt()) return tr_args_int(handle, v.toSymInt().expect_int());
    if (v.isDouble()) return tr_args_float(handle, v.toDouble());
    if (v.isIntList() || v.isBoolList() || (v.isList() && !v.isDoubleList())) return int_list(v);
    if (v.isDevice() || v.isStream()) {
      // A stream stands for its device: every stream of a remote device runs in order.
      auto s = (v.isDevice() ? v.toDevice() : v.toStream().device()).str();
      return tr_args_str(handle, s.data(), s.size());
    }
    if (v.isString()) {
      auto s = v.toStringRef();
      return tr_args_str(handle, s.data(), s.size());
    }
    if (v.isGenerator()) return generator(v.toGenerator());
    if (v.isStorage()) return storage(v.toStorage());
    TORCH_CHECK_NOT_IMPLEMENTED(false, op, ": argument '", arg.name(), "' of type ", arg.type()->str(),
                                " is not supported on remote; set TORCH_REMOTE_CPU_FALLBACK=1 to run ", op,
                                " on the CPU instead");
  }
};

// Owns a result of tr_dispatch.
struct DispatchResult {
  void* handle;
  ~DispatchResult() { tr_result_free(handle); }
};

// Whether a view at element `offset` of the remote storage (counted from its start) lies in
// `s`, which may be a slice of it beginning some bytes in.
bool starts_within(const c10::Storage& s, int64_t offset, caffe2::TypeMeta dtype) {
  const auto skipped = place_of(s).byte_offset;
  const auto itemsize = dtype.itemsize();
  return skipped % itemsize == 0 && static_cast<int64_t>(skipped / itemsize) <= offset;
}

// Output `j` of return `i`; `made` says whether its storage is one the op made.
at::Tensor tensor_from(const DispatchResult& r, uint64_t i, uint64_t j, const std::vector<c10::IValue>& inputs,
                       c10::DeviceIndex device, bool* made = nullptr) {
  TrMeta meta{};
  uint64_t nbytes = 0;
  const bool fresh = tr_result_meta(r.handle, i, j, &meta, &nbytes) != 0;
  if (made != nullptr) *made = fresh;
  const auto dtype = c10::scalarTypeToTypeMeta(static_cast<c10::ScalarType>(meta.dtype));
  at::Tensor out;
  if (fresh) {
    out = at::detail::make_tensor<c10::TensorImpl>(make_storage(meta.storage, nbytes, device),
                                                   c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), dtype);
  } else {
    for (const auto& v : inputs) {
      if (v.isTensor() && v.toTensor().defined() && v.toTensor().device().type() == kRemote &&
          storage_id(v.toTensor()) == meta.storage && starts_within(v.toTensor().storage(), meta.offset, dtype)) {
        // A view takes its base's dispatch keys, as CPU's views do: inside inference mode a
        // view of a normal tensor stays a normal tensor, which autograd's view tracking needs.
        const auto& base = v.toTensor();
        // The guest counts offsets from the remote storage's start; a slice of an untyped
        // storage starts later.
        meta.offset -= static_cast<int64_t>(place_of(base.storage()).byte_offset / dtype.itemsize());
        TORCH_CHECK(!base.is_conj() || base.dtype() == dtype,
                    "torch.Tensor.view is not supported for conjugate view tensors when converting to a different "
                    "dtype. (a conjugated ", describe(base), " as ", dtype.name(), "; call .resolve_conj() first)");
        out = at::detail::make_tensor<c10::TensorImpl>(c10::TensorImpl::VIEW, c10::Storage(base.storage()),
                                                       base.key_set(), dtype);
        break;
      }
      // The guest saw the storage as its own Byte tensor (`ArgBuilder::storage`), so this
      // offset already counts from the slice's start.
      if (v.isStorage() && v.toStorage().device().type() == kRemote &&
          place_of(v.toStorage()).id == meta.storage) {
        out = at::detail::make_tensor<c10::TensorImpl>(c10::Storage(v.toStorage()),
                                                       c10::DispatchKeySet(c10::DispatchKey::PrivateUse1), dtype);
        break;
      }
    }
    TORCH_CHECK(out.defined(), "remote: the guest returned a view of storage ", meta.storage,
                " which no argument holds");
  }
  out.unsafeGetTensorImpl()->set_sizes_and_strides(c10::IntArrayRef(meta.sizes, meta.ndim),
                                                   c10::IntArrayRef(meta.strides, meta.ndim), meta.offset);
  return out;
}

// Applies `updated` outputs: the argument keeps its identity, takes the new metadata. A storage
// the op made that is larger than the argument's is that storage grown (the guest copied its
// bytes over): as PyTorch grows a storage in place, every tensor sharing it moves along.
at::Tensor update(const DispatchResult& r, uint64_t i, const std::vector<c10::IValue>& inputs, c10::DeviceIndex device) {
  auto target = inputs.at(tr_result_arg(r.handle, i)).toTensor();
  bool made = false;
  auto fresh = tensor_from(r, i, 0, inputs, device, &made);
  auto* impl = target.unsafeGetTensorImpl();
  auto* shared = target.storage().unsafeGetStorageImpl();
  auto* grown = fresh.storage().unsafeGetStorageImpl();
  if (made && grown->nbytes() > shared->nbytes() && place_of(target.storage()).byte_offset == 0) {
    TORCH_CHECK(shared->resizable(), "Trying to resize storage that is not resizable");
    shared->set_data_ptr_noswap(grown->set_data_ptr(c10::DataPtr(nullptr, fresh.device())));
    shared->set_nbytes(grown->nbytes());
  } else if (!fresh.storage().is_alias_of(target.storage())) {
    impl->set_storage_keep_dtype(fresh.storage());
  }
  impl->set_sizes_and_strides(fresh.sizes(), fresh.strides(), fresh.storage_offset());
  return target;
}

// The remote device an op runs on: the one its arguments name (`device="remote:1"`), else
// that of its first remote tensor, else the current one. The core checks that every tensor
// lives there.
c10::DeviceIndex device_of(const std::vector<c10::IValue>& inputs) {
  for (const auto& v : inputs) {
    if (v.isDevice() && v.toDevice().type() == kRemote && v.toDevice().has_index()) return v.toDevice().index();
  }
  for (const auto& v : inputs) {
    if (v.isTensor() && v.toTensor().defined() && v.toTensor().device().type() == kRemote) return v.toTensor().device().index();
    if (v.isStorage() && v.toStorage().device().type() == kRemote) return v.toStorage().device().index();
    if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorList()) {
        if (t.defined() && t.device().type() == kRemote) return t.device().index();
      }
    }
  }
  return g_current_device;
}

at::Tensor download(const at::Tensor& src);

// A schema's `bool`, `int` or `float` return, which the guest computes as a 0-dim tensor: the
// client reads it, a wait like `.item()`.
c10::IValue returned(at::Tensor t, const c10::Argument& ret) {
  switch (ret.type()->kind()) {
    case c10::TypeKind::BoolType: return download(t).item().toBool();
    case c10::TypeKind::IntType: return download(t).item().toLong();
    case c10::TypeKind::FloatType: return download(t).item().toDouble();
    default: return t;
  }
}

// Gives the op's warnings as PyTorch's kernels do (Python shows each as a UserWarning where the
// op was called); a once-only one at most once per process, as TORCH_WARN_ONCE.
void warn(const DispatchResult& r) {
  static std::mutex given_lock;
  static std::unordered_set<std::string> given;
  for (uint64_t i = 0; i < tr_result_warning_count(r.handle); ++i) {
    uint64_t len = 0;
    int32_t once = 0;
    const char* text = tr_result_warning(r.handle, i, &len, &once);
    std::string message(text, len);
    if (once) {
      std::lock_guard<std::mutex> guard(given_lock);
      if (!given.insert(message).second) continue;
    }
    TORCH_WARN(message);
  }
}

void push_outputs(const DispatchResult& r, const std::vector<c10::IValue>& inputs,
                  const std::vector<c10::Argument>& returns, const std::string& op, torch::jit::Stack* stack) {
  TORCH_CHECK(tr_result_len(r.handle) >= returns.size(), op, ": the guest returned ", tr_result_len(r.handle),
              " outputs where the schema has ", returns.size());
  const auto device = device_of(inputs);
  // Past the schema's returns come arguments the op resized without returning them.
  for (uint64_t i = returns.size(); i < tr_result_len(r.handle); ++i) {
    TORCH_CHECK(tr_result_kind(r.handle, i) == kUpdated, op, ": the guest returned an extra output that is not an update");
    update(r, i, inputs, device);
  }
  for (uint64_t i = 0; i < returns.size(); ++i) {
    switch (tr_result_kind(r.handle, i)) {
      case kArgument: stack->push_back(inputs.at(tr_result_arg(r.handle, i))); break;
      case kUpdated: stack->push_back(update(r, i, inputs, device)); break;
      case kTensor: stack->push_back(returned(tensor_from(r, i, 0, inputs, device), returns[i])); break;
      case kTensorList: {
        c10::List<at::Tensor> list;
        for (uint64_t j = 0; j < tr_result_list_len(r.handle, i); ++j) list.push_back(tensor_from(r, i, j, inputs, device));
        stack->push_back(std::move(list));
        break;
      }
      // `none`: an undefined tensor (a backward's gradient its output_mask did not ask for).
      default: stack->push_back(at::Tensor()); break;
    }
  }
}

// Whether remote tensors can hold `dtype` (the WIT's scalar types).
bool remote_holds(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kByte: case c10::kChar: case c10::kShort: case c10::kInt: case c10::kLong:
    case c10::kHalf: case c10::kBFloat16: case c10::kFloat: case c10::kDouble:
    case c10::kComplexFloat: case c10::kComplexDouble: case c10::kBool:
      return true;
    default:
      return false;
  }
}

void upload(const at::Tensor& src, const at::Tensor& dst) {
  auto dense = src.resolve_conj().resolve_neg().contiguous();
  // A CPU dtype remote lacks (numpy's uint16, say) converts on the CPU into the destination's,
  // as the copy would convert it anyway.
  if (!remote_holds(dense.scalar_type())) dense = dense.to(dst.scalar_type());
  auto meta = meta_of(dst);
  const DispatchResult r{tr_upload(&meta, static_cast<int32_t>(dense.scalar_type()), dense.sizes().data(),
                                   dense.dim(), dense.data_ptr(), dense.nbytes())};
  int32_t kind = 0;
  if (const char* error = tr_result_error(r.handle, &kind)) raise(error, kind);
  warn(r);
}

at::Tensor download(const at::Tensor& src) {
  auto host = at::empty(src.sizes(), src.options().device(c10::kCPU));
  auto meta = meta_of(src);
  check(tr_download(&meta, host.data_ptr(), host.nbytes()));
  return host;
}

// Copies between the CPU and remote: the bytes travel, the guest does the conversion.
bool transfer(const std::string& name, std::vector<c10::IValue>& inputs, torch::jit::Stack* stack) {
  if (name != "aten::_copy_from" && name != "aten::_copy_from_and_resize") return false;
  const auto src = inputs[0].toTensor();
  auto dst = inputs[1].toTensor();
  const bool src_remote = src.device().type() == kRemote;
  const bool dst_remote = dst.device().type() == kRemote;
  // Between two remote devices the bytes pass through this process: the hosts do not know
  // each other.
  const bool across = src_remote && dst_remote && src.device() != dst.device();
  if (src_remote == dst_remote && !across) return false;
  if (name == "aten::_copy_from_and_resize" && !dst.sizes().equals(src.sizes())) dst.resize_(src.sizes());
  if (across) {
    upload(download(src), dst);
  } else if (dst_remote) {
    upload(src, dst);
  } else if (dst.is_contiguous() && dst.scalar_type() == src.scalar_type() && dst.sizes().equals(src.sizes())) {
    // The bytes land in `dst` itself: no staging tensor, no second copy.
    auto meta = meta_of(src);
    check(tr_download(&meta, dst.data_ptr(), dst.nbytes()));
  } else {
    dst.copy_(download(src));
  }
  stack->push_back(dst);
  return true;
}

// The guest sees bytes, not PyTorch's lazy conjugate and negative bits. PyTorch resolves them
// before most ops; those it lets through (copies, clones, views, some products) arrive here
// with them set. Views keep them: their outputs take their base's dispatch keys.
bool has_math_bits(const at::Tensor& t) { return t.defined() && (t.is_conj() || t.is_neg()); }

// `t`'s values in a tensor without math bits.
at::Tensor resolved(const at::Tensor& t) {
  auto plain = t;
  if (plain.is_conj()) plain = at::conj_physical(plain.conj());
  if (plain.is_neg()) plain = at::neg(plain._neg_view());
  return plain;
}

// A copy into a conjugate or negative view writes the same transform of its source through
// the plain view of the destination.
bool copy_into_math_view(const std::string& name, const std::vector<c10::IValue>& inputs,
                         torch::jit::Stack* stack) {
  const bool into_self = name == "aten::copy_";
  if (!into_self && name != "aten::_copy_from" && name != "aten::_copy_from_and_resize") return false;
  const auto dst = inputs[into_self ? 0 : 1].toTensor();
  if (!has_math_bits(dst)) return false;
  auto plain_dst = dst;
  auto plain_src = inputs[into_self ? 1 : 0].toTensor();
  if (dst.is_conj()) {
    plain_dst = plain_dst.conj();
    plain_src = plain_src.conj();
  }
  if (dst.is_neg()) {
    plain_dst = plain_dst._neg_view();
    plain_src = plain_src._neg_view();
  }
  if (name == "aten::_copy_from_and_resize" && !dst.sizes().equals(plain_src.sizes())) plain_dst.resize_(plain_src.sizes());
  plain_dst.copy_(plain_src);
  stack->push_back(dst);
  return true;
}

// `index_put_` writes a one-element CPU value through one boolean mask on the device as
// `masked_fill_` with its `item()`, whatever its dtype (`canDispatchToMaskedFill`): such a value
// goes to the guest as a number, like a Python one, rather than as an upload of its dtype.
void mask_value_as_number(const std::string& name, std::vector<c10::IValue>& inputs) {
  if ((name != "aten::index_put_" && name != "aten::_index_put_impl_") || inputs.size() < 4) return;
  const auto& value = inputs[2].toTensor();
  if (!value.defined() || !value.is_cpu() || value.numel() != 1 || inputs[3].toBool()) return;
  int masks = 0;
  for (const auto& index : inputs[1].toListRef()) {
    if (index.isNone() || !index.toTensor().defined()) continue;
    const auto& t = index.toTensor();
    const bool is_mask = t.scalar_type() == at::kBool || t.scalar_type() == at::kByte;
    if (!is_mask || t.device().type() != kRemote || ++masks > 1) return;
  }
  if (masks != 1) return;
  auto number = at::scalar_tensor(value.item(), value.options());
  number.unsafeGetTensorImpl()->set_wrapped_number(true);
  inputs[2] = number;
}

// Resolves the math bits of the remote tensors `op` only reads. `_unsafe_view` is a view whose
// schema does not say so: it keeps its input's bits, as on the CPU.
void resolve_read_inputs(const std::string& name, const std::vector<c10::Argument>& arguments,
                         std::vector<c10::IValue>& inputs) {
  if (name == "aten::_unsafe_view") return;
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i].alias_info() || !inputs[i].isTensor()) continue;
    const auto& t = inputs[i].toTensor();
    if (has_math_bits(t) && t.device().type() == kRemote) inputs[i] = resolved(t);
  }
}

// The ops PyTorch's conjugate fallback hands straight to the backend although they write values
// (the CPU's and CUDA's kernels fold the conjugation into BLAS).
bool writes_through_math_views(const std::string& name) {
  static const std::unordered_set<std::string> ops = {
      "aten::mm",     "aten::addmm", "aten::addmm_", "aten::bmm",  "aten::baddbmm", "aten::baddbmm_",
      "aten::dot",    "aten::vdot",  "aten::linalg_solve_triangular"};
  return ops.count(name) > 0;
}

// A conjugate or negative view such an op writes (`mm(a, b, out=o.conj())`) is replaced by its
// resolved values, to be copied back through the view once the op ran. Returns the views.
std::vector<std::pair<size_t, at::Tensor>> resolve_written_math_views(const std::string& name,
                                                                      const std::vector<c10::Argument>& arguments,
                                                                      std::vector<c10::IValue>& inputs) {
  std::vector<std::pair<size_t, at::Tensor>> views;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const auto* alias = arguments[i].alias_info();
    if (alias == nullptr || !alias->isWrite() || !inputs[i].isTensor()) continue;
    const auto t = inputs[i].toTensor();
    // The name is looked up last: nearly every op writes plain tensors.
    if (!has_math_bits(t) || t.device().type() != kRemote || !writes_through_math_views(name)) continue;
    views.emplace_back(i, t);
    inputs[i] = resolved(t);
  }
  return views;
}

// Writes the op's values through the views it was given, which it returns in their place.
void copy_back_math_views(const std::vector<std::pair<size_t, at::Tensor>>& views,
                          const std::vector<c10::IValue>& inputs, size_t returns, torch::jit::Stack* stack) {
  for (const auto& [i, view] : views) {
    const auto& values = inputs[i].toTensor();
    // A resized `out=` view is resized too, as the CPU resizes it.
    if (!view.sizes().equals(values.sizes())) view.resize_(values.sizes());
    view.copy_(values);
    for (auto it = stack->end() - returns; it != stack->end(); ++it) {
      if (it->isTensor() && it->toTensor().is_same(values)) *it = view;
    }
  }
}

bool cpu_fallback_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("TORCH_REMOTE_CPU_FALLBACK");
    return value != nullptr && std::string(value) != "" && std::string(value) != "0";
  }();
  return enabled;
}

// `v` with `move` applied to each tensor it is or holds, and a device argument made `device`.
template <typename Move>
c10::IValue moved(const c10::IValue& v, c10::Device device, Move move) {
  if (v.isTensor()) return move(v.toTensor());
  if (v.isTensorList()) {
    c10::List<at::Tensor> list;
    for (const at::Tensor& t : v.toTensorList()) list.push_back(move(t));
    return list;
  }
  if (v.isOptionalTensorList()) {
    c10::List<std::optional<at::Tensor>> list;
    for (const std::optional<at::Tensor>& t : v.toOptionalTensorList()) {
      list.push_back(t.has_value() ? std::optional<at::Tensor>(move(*t)) : std::nullopt);
    }
    return list;
  }
  if (v.isDevice() && v.toDevice().type() != device.type()) return device;
  return v;
}

c10::IValue on_device(const c10::IValue& v, c10::Device device) {
  return moved(v, device, [&](const at::Tensor& t) { return t.defined() && t.device() != device ? t.to(device) : t; });
}

// The CPU copies of the remote storages an op on the CPU fallback reads: of each storage the
// bytes its arguments span come down, once, and each tensor becomes the same view of that
// copy, so arguments that share memory share it on the CPU too (a tensor passed twice,
// overlapping views), and a result that views an argument views it on remote.
class CpuMirror {
 public:
  explicit CpuMirror(const std::vector<c10::IValue>& inputs) {
    for (const auto& v : inputs) moved(v, c10::Device(c10::kCPU), [this](const at::Tensor& t) { return cover(t); });
  }

  c10::IValue to_cpu(const c10::IValue& v) {
    return moved(v, c10::Device(c10::kCPU), [this](const at::Tensor& t) { return to_cpu(t); });
  }

  // What the op wrote into `cpu`, its copy of argument `remote`: the span goes back where
  // `cpu` still views its copy, else (an `out=` the op resized) its values, last.
  void written(const c10::IValue& remote, const c10::IValue& cpu) {
    if (remote.isTensor() && cpu.isTensor()) return written(remote.toTensor(), cpu.toTensor());
    if (remote.isTensorList() && cpu.isTensorList()) {
      const auto targets = remote.toTensorList();
      const auto results = cpu.toTensorList();
      for (size_t i = 0; i < targets.size() && i < results.size(); ++i) written(targets[i], results[i]);
    }
  }

  // Puts back on remote every span the op wrote into, then every resized `out=`.
  void write_back() {
    for (auto& entry : copies_) {
      const auto& copy = entry.second;
      if (copy.dirty) span_of(copy, copy.remote.device()).copy_(copy.cpu);
    }
    for (auto& [remote, cpu] : resized_) {
      remote.resize_(cpu.sizes());
      remote.copy_(cpu);
    }
  }

  // A result: a view of an argument's copy becomes that view of the argument's storage.
  c10::IValue to_remote(const c10::IValue& v, c10::Device remote) {
    return moved(v, remote, [&](const at::Tensor& t) { return to_remote(t, remote); });
  }

 private:
  // The bytes [begin, end) of `remote` that arguments view, and their CPU copy.
  struct Copy {
    c10::Storage remote;
    int64_t begin = 0;
    int64_t end = 0;
    at::Tensor cpu;
    bool dirty = false;
  };

  // Copies start 16-byte aligned, so each argument's elements stay whole in them.
  static constexpr int64_t kAlign = 16;

  static at::Tensor span_of(const Copy& copy, c10::Device device) {
    return at::empty({0}, at::TensorOptions().dtype(at::kByte).device(device))
        .set_(copy.remote, copy.begin, {copy.end - copy.begin}, {1});
  }

  // The storage's elements (of `t`'s dtype) before `t`'s first in `copy`.
  static int64_t offset_in(const Copy& copy, const at::Tensor& t) {
    return t.storage_offset() - copy.begin / static_cast<int64_t>(t.element_size());
  }

  at::Tensor cover(const at::Tensor& t) {
    if (!t.defined() || t.device().type() != kRemote || t.is_conj() || t.is_neg()) return t;
    const int64_t item = static_cast<int64_t>(t.element_size());
    int64_t last = 0;
    for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    const int64_t first = t.storage_offset() * item;
    const int64_t begin = first - first % kAlign;
    const int64_t end = t.numel() == 0 ? first : first + (last + 1) * item;
    auto [it, fresh] = copies_.try_emplace(t.storage().unsafeGetStorageImpl(), Copy{t.storage(), begin, end});
    if (!fresh) {
      it->second.begin = std::min(it->second.begin, begin);
      it->second.end = std::max(it->second.end, end);
    }
    return t;
  }

  at::Tensor to_cpu(const at::Tensor& t) {
    if (!t.defined() || t.device().type() != kRemote) return t;
    // A lazily conjugated or negated view reads other values than its memory holds.
    if (t.is_conj() || t.is_neg()) return t.to(c10::kCPU);
    auto& copy = copies_.at(t.storage().unsafeGetStorageImpl());
    if (!copy.cpu.defined()) copy.cpu = span_of(copy, t.device()).cpu();
    return at::empty({0}, t.options().device(c10::kCPU))
        .set_(copy.cpu.storage(), offset_in(copy, t), t.sizes(), t.strides());
  }

  void written(const at::Tensor& remote, const at::Tensor& cpu) {
    if (!remote.defined() || !cpu.defined() || remote.device().type() != kRemote) return;
    auto it = copies_.find(remote.storage().unsafeGetStorageImpl());
    if (it != copies_.end() && it->second.cpu.defined() && cpu.storage().is_alias_of(it->second.cpu.storage()) &&
        cpu.sizes().equals(remote.sizes())) {
      it->second.dirty = true;
      return;
    }
    resized_.emplace_back(remote, cpu);
  }

  at::Tensor to_remote(const at::Tensor& t, c10::Device remote) {
    if (!t.defined() || t.device().type() == kRemote) return t;
    for (const auto& entry : copies_) {
      const auto& copy = entry.second;
      if (copy.cpu.defined() && t.storage().is_alias_of(copy.cpu.storage())) {
        const int64_t offset = t.storage_offset() + copy.begin / static_cast<int64_t>(t.element_size());
        return at::empty({0}, t.options().device(remote)).set_(copy.remote, offset, t.sizes(), t.strides());
      }
    }
    return t.to(remote);
  }

  std::unordered_map<const c10::StorageImpl*, Copy> copies_;
  std::vector<std::pair<at::Tensor, at::Tensor>> resized_;
};

bool same_alias(const c10::Argument& a, const c10::Argument& b) {
  return a.alias_info() && b.alias_info() && a.alias_info()->isWrite() &&
         a.alias_info()->beforeSets() == b.alias_info()->beforeSets();
}

// TORCH_REMOTE_CPU_FALLBACK=1: an op the guest does not know runs on the CPU (values go
// down, the op runs, results go up), with one warning per op.
void run_on_cpu(const c10::OperatorHandle& op, const std::string& label, const std::vector<c10::IValue>& inputs,
                torch::jit::Stack* stack) {
  static std::mutex warned_lock;
  static std::set<std::string> warned;
  {
    std::lock_guard<std::mutex> guard(warned_lock);
    if (warned.insert(label).second) {
      TORCH_WARN("torch_remote: ", label, " is not supported on remote; running it on the CPU ",
                 "(TORCH_REMOTE_CPU_FALLBACK=1), which copies its tensors both ways");
    }
  }
  const auto& schema = op.schema();
  const c10::Device cpu(c10::kCPU);
  const c10::Device remote(kRemote, device_of(inputs));
  CpuMirror mirror(inputs);
  std::vector<c10::IValue> cpu_inputs;
  for (const auto& v : inputs) cpu_inputs.push_back(mirror.to_cpu(v));
  torch::jit::Stack cpu_stack(cpu_inputs.begin(), cpu_inputs.end());
  op.callBoxed(&cpu_stack);
  const auto& arguments = schema.arguments();
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i].alias_info() && arguments[i].alias_info()->isWrite()) mirror.written(inputs[i], cpu_inputs[i]);
  }
  mirror.write_back();
  const auto& returns = schema.returns();
  for (size_t j = 0; j < returns.size(); ++j) {
    size_t aliased = arguments.size();
    for (size_t i = 0; i < arguments.size(); ++i) {
      if (same_alias(returns[j], arguments[i])) aliased = i;
    }
    stack->push_back(aliased < arguments.size() ? inputs[aliased] : mirror.to_remote(cpu_stack[j], remote));
  }
}

// Whether any of the top `count` values of `stack` is a tensor on the meta device.
bool any_meta(const torch::jit::Stack& stack, size_t count) {
  const auto is_meta = [](const at::Tensor& t) { return t.defined() && t.is_meta(); };
  for (auto it = stack.end() - count; it != stack.end(); ++it) {
    if (it->isTensor() && is_meta(it->toTensor())) return true;
    if (it->isTensorList()) {
      for (const auto& element : it->toListRef())
        if (is_meta(element.toTensor())) return true;
    }
  }
  return false;
}

// Whether `v` is, holds or names something on remote.
bool names_remote(const c10::IValue& v) {
  const auto remote = [](const at::Tensor& t) { return t.defined() && t.device().type() == kRemote; };
  if (v.isTensor()) return remote(v.toTensor());
  if (v.isDevice()) return v.toDevice().type() == kRemote;
  if (v.isStorage()) return v.toStorage().device().type() == kRemote;
  if (v.isList()) {
    for (const auto& e : v.toListRef())
      if (e.isTensor() && remote(e.toTensor())) return true;
  }
  return false;
}

// Whether this CPU's mkldnn takes bfloat16 (16) and float16 (32), which its instructions say.
int32_t mkldnn_reduced_precision() {
  static const int32_t flags = [] {
    const auto ask = [](const char* name) {
      const auto op = c10::Dispatcher::singleton().findSchema({name, ""});
      return op && op->typed<bool()>().call();
    };
    return (ask("mkldnn::_is_mkldnn_bf16_supported") ? 16 : 0) | (ask("mkldnn::_is_mkldnn_fp16_supported") ? 32 : 0);
  }();
  return flags;
}

// `torch.use_deterministic_algorithms` as the flags `tr_dispatch` takes: 1 on, 2 warn only,
// 4 fill uninitialised memory; and what the CPU's convolutions choose their kernels by: 8 one
// intra-op thread, 64 mkldnn enabled, with 16 and 32 from `mkldnn_reduced_precision`.
int32_t op_flags() {
  const auto& context = at::globalContext();
  const int32_t mkldnn = context.userEnabledMkldnn() ? 64 | mkldnn_reduced_precision() : 0;
  const int32_t convolutions = (at::get_num_threads() == 1 ? 8 : 0) | mkldnn;
  if (!context.deterministicAlgorithms()) return convolutions;
  return convolutions | 1 | (context.deterministicAlgorithmsWarnOnly() ? 2 : 0) |
         (context.deterministicFillUninitializedMemory() ? 4 : 0);
}

// An op of CPU tensors comes here when its generator is remote: the CPU's kernels refuse
// that generator, as they refuse CUDA's.
void check_generator_device(const std::vector<c10::IValue>& inputs) {
  bool remote_generator = false;
  for (const auto& v : inputs) {
    if (names_remote(v)) return;
    remote_generator |= v.isGenerator() && v.toGenerator().defined() && v.toGenerator().device().type() == kRemote;
  }
  TORCH_CHECK(!remote_generator, "Expected a 'cpu' device type for generator but found 'remote'");
}

// The guest knows aten's ops, this extension's own (`torch_remote::rnn_layer`), torchvision's
// (`torchvision::nms`) and torchaudio's (`torchaudio::_lfilter_core_loop`); those of these
// libraries it lacks it refuses, or the CPU fallback runs. An op of another library
// (`mylib::sin`) is none of them, whatever its name.
bool served_by_guest(const std::string& name) {
  for (const char* library : {"aten::", "torch_remote::", "torchvision::", "torchaudio::"}) {
    if (name.rfind(library, 0) == 0) return true;
  }
  return false;
}

// A CPU tensor filled from a remote 0-dim one (`cpu.fill_(remote_scalar)`, `nn.init.constant_`,
// `cpu[idx] = remote_scalar`): as CUDA's kernels do, the value is read (a wait) and the op runs
// on the CPU.
bool fill_cpu_from_remote_number(const c10::OperatorHandle& op, const std::string& name,
                                 std::vector<c10::IValue>& inputs, torch::jit::Stack* stack) {
  static const std::unordered_set<std::string> fills = {"aten::fill_", "aten::index_fill_", "aten::index_put_",
                                                        "aten::_index_put_impl_"};
  if (inputs.empty() || !inputs[0].isTensor() || !inputs[0].toTensor().is_cpu() || fills.count(name) == 0) return false;
  for (const auto& v : inputs) {
    if (v.isTensor() && v.toTensor().defined() && v.toTensor().device().type() == kRemote &&
        v.toTensor().dim() != 0)
      return false;
    if (v.isList() && names_remote(v)) return false;
  }
  torch::jit::Stack cpu_stack;
  for (const auto& v : inputs) {
    const bool remote = v.isTensor() && v.toTensor().defined() && v.toTensor().device().type() == kRemote;
    cpu_stack.push_back(remote ? c10::IValue(download(v.toTensor())) : v);
  }
  op.callBoxed(&cpu_stack);
  stack->insert(stack->end(), cpu_stack.begin(), cpu_stack.end());
  return true;
}

void fallback(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  const auto& arguments = schema.arguments();
  const std::string& name = schema.name();
  // torch.compile traces with FakeTensors: meta tensors carrying remote's dispatch keys, whose
  // ops PyTorch's internals sometimes send here. They are meta ops.
  if (any_meta(*stack, arguments.size())) {
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::Meta), stack);
    return;
  }
  std::vector<c10::IValue> inputs(stack->end() - arguments.size(), stack->end());
  torch::jit::drop(*stack, arguments.size());
  if (!served_by_guest(name)) {
    if (cpu_fallback_enabled()) return run_on_cpu(op, name, inputs, stack);
    TORCH_CHECK_NOT_IMPLEMENTED(false, name, " has no kernel for the remote device; register one with ",
                                "torch.library.register_kernel(..., \"remote\") or set TORCH_REMOTE_CPU_FALLBACK=1 ",
                                "to run it on the CPU instead");
  }
  if (fill_cpu_from_remote_number(op, name, inputs, stack)) return;
  if (copy_into_math_view(name, inputs, stack)) return;
  // Conjugation is the client's alone (a math bit), so its refusals are given here.
  TORCH_CHECK(name != "aten::view_as_real" || !inputs[0].toTensor().is_conj(),
              "view_as_real doesn't work on unresolved conjugated tensors.  To resolve the conjugate tensor so you "
              "can view it as real, use self.resolve_conj(); however, be warned that the resulting tensor will NOT "
              "alias the original.");
  resolve_read_inputs(name, arguments, inputs);
  const auto math_views = resolve_written_math_views(name, arguments, inputs);
  if (transfer(name, inputs, stack)) return;
  if (name == "aten::_local_scalar_dense") {
    stack->push_back(download(inputs[0].toTensor()).item());
    return;
  }
  check_generator_device(inputs);
  mask_value_as_number(name, inputs);
  ArgBuilder builder;
  builder.device = device_of(inputs);
  // The guest knows aten's ops by their bare names, other libraries' by their full ones.
  const auto base = name.rfind("aten::", 0) == 0 ? name.substr(6) : name;
  builder.op = base;
  if (!schema.overload_name().empty()) builder.op += "." + schema.overload_name();
  try {
    for (size_t i = 0; i < arguments.size(); ++i) builder.add(inputs[i], arguments[i]);
  } catch (const c10::NotImplementedError&) {
    if (cpu_fallback_enabled()) return run_on_cpu(op, builder.op, inputs, stack);
    throw;
  }
  DispatchResult result{tr_dispatch(builder.release(), base.c_str(), schema.overload_name().c_str(),
                                    static_cast<int32_t>(c10::typeMetaToScalarType(c10::get_default_dtype())),
                                    op_flags(), builder.device)};
  int32_t kind = 0;
  if (const char* error = tr_result_error(result.handle, &kind)) {
    if (kind == kNotImplemented && cpu_fallback_enabled()) return run_on_cpu(op, builder.op, inputs, stack);
    raise(error, kind);
  }
  warn(result);
  push_outputs(result, inputs, schema.returns(), builder.op, stack);
  copy_back_math_views(math_views, inputs, schema.returns().size(), stack);
}

struct RemoteGuardImpl final : c10::impl::DeviceGuardImplInterface {
  c10::DeviceType type() const override { return kRemote; }
  c10::Device exchangeDevice(c10::Device d) const override {
    auto old = getDevice();
    setDevice(d);
    return old;
  }
  c10::Device getDevice() const override { return c10::Device(kRemote, g_current_device); }
  void setDevice(c10::Device d) const override {
    TORCH_CHECK(d.type() == kRemote, "remote: cannot make ", d, " the current remote device");
    TORCH_CHECK(d.index() < tr_device_count(), "remote: device ", d, " does not exist (", tr_device_count(),
                " remote devices)");
    if (d.index() >= 0) g_current_device = d.index();
  }
  void uncheckedSetDevice(c10::Device d) const noexcept override {
    if (d.index() >= 0) g_current_device = d.index();
  }
  // A device runs its ops in the order they were sent, whatever stream PyTorch has them on:
  // streams are names, the current one kept per thread as CUDA keeps it, and waiting on the
  // device is waiting on any stream or event of it.
  static c10::StreamId& current_stream_id() {
    thread_local c10::StreamId id = 0;
    return id;
  }
  // `torch.Stream(device="remote")` names no index: the current device's, as CUDA takes it.
  c10::Device indexed(c10::Device d) const { return d.has_index() ? d : getDevice(); }
  c10::Stream getStream(c10::Device d) const override {
    return c10::Stream(c10::Stream::UNSAFE, indexed(d), current_stream_id());
  }
  c10::Stream exchangeStream(c10::Stream s) const override {
    const auto old = getStream(s.device());
    current_stream_id() = s.id();
    return old;
  }
  c10::Stream getDefaultStream(c10::Device d) const override { return c10::Stream(c10::Stream::DEFAULT, indexed(d)); }
  c10::Stream getNewStream(c10::Device d, int) const override {
    static std::atomic<c10::StreamId> next{1};
    return c10::Stream(c10::Stream::UNSAFE, indexed(d), next.fetch_add(1));
  }
  c10::Stream getStreamFromGlobalPool(c10::Device d, bool) const override { return getNewStream(d, 0); }
  void synchronizeDevice(const c10::DeviceIndex index) const override { check(tr_synchronize(index)); }
  void synchronizeStream(const c10::Stream& s) const override { check(tr_synchronize(s.device_index())); }
  bool queryStream(const c10::Stream& s) const override {
    synchronizeStream(s);
    return true;
  }
  // A device runs its ops in order, so an event only marks a place among them. A timing
  // event is the time its device had run every op sent before it: recording waits for them,
  // so the time between two events is the host's time for the ops between them plus one
  // round trip. Any other event waits only when asked whether those ops are done.
  struct Marker {
    c10::DeviceIndex device = 0;
    bool timed = false;
    bool done = false;
    std::chrono::steady_clock::time_point at;
  };
  static void wait_for(Marker& marker) {
    if (!marker.done) check(tr_synchronize(marker.device));
    marker.done = true;
  }
  void record(void** event, const c10::Stream& stream, const c10::DeviceIndex, const c10::EventFlag flag) const override {
    const auto device = stream.device_index() < 0 ? g_current_device : stream.device_index();
    Marker marker{device, flag == c10::EventFlag::BACKEND_DEFAULT};
    if (marker.timed) {
      // A failed wait leaves the event as it was: PyTorch still counts its earlier record.
      wait_for(marker);
      marker.at = std::chrono::steady_clock::now();
    }
    if (*event == nullptr) *event = new Marker();
    *static_cast<Marker*>(*event) = marker;
  }
  void block(void*, const c10::Stream&) const override {}
  bool queryEvent(void* event) const override {
    if (event != nullptr) wait_for(*static_cast<Marker*>(event));
    return true;
  }
  void synchronizeEvent(void* event) const override {
    if (event != nullptr) wait_for(*static_cast<Marker*>(event));
  }
  void destroyEvent(void* event, const c10::DeviceIndex) const noexcept override { delete static_cast<Marker*>(event); }
  double elapsedTime(void* start, void* end, const c10::DeviceIndex) const override {
    TORCH_CHECK(start != nullptr && end != nullptr,
                "remote: both events must be recorded before calculating elapsed time");
    const auto& [from, to] = std::tie(*static_cast<Marker*>(start), *static_cast<Marker*>(end));
    TORCH_CHECK(from.timed && to.timed, "Both events must be created with argument 'enable_timing=True'.");
    return std::chrono::duration<double, std::milli>(to.at - from.at).count();
  }
  // The most devices there can be, not how many there are now: the autograd engine sizes its
  // per-device queues by this once, at the first backward, and `connect` may add devices
  // later. Indices past the real count are refused by setDevice and the core.
  c10::DeviceIndex deviceCount() const noexcept override { return static_cast<c10::DeviceIndex>(tr_max_devices()); }
};

// Device timings for the autograd profiler's `use_device="remote"`: an event is the time its
// device had run every op sent before it, as `torch.remote.Event` records it, so an op's
// device time is the host's time for it plus a round trip. The waits leave what failed on
// the host to the next wait that raises: profiler callbacks cannot raise (PyTorch logs and
// drops their exceptions), and a lost link shows at the next op.
struct RemoteProfilerStubs final : torch::profiler::impl::ProfilerStubs {
  using Clock = std::chrono::steady_clock;

  void record(c10::DeviceIndex* device, torch::profiler::impl::ProfilerVoidEventStub* event,
              int64_t* cpu_ns) const override {
    if (device != nullptr) *device = g_current_device;
    tr_wait(g_current_device);
    if (cpu_ns != nullptr) *cpu_ns = c10::getTime();
    *event = std::shared_ptr<void>(new Clock::time_point(Clock::now()),
                                   [](void* p) { delete static_cast<Clock::time_point*>(p); });
  }
  // In microseconds, as CUDA's stubs give it.
  float elapsed(const torch::profiler::impl::ProfilerVoidEventStub* start,
                const torch::profiler::impl::ProfilerVoidEventStub* end) const override {
    const auto span = *static_cast<Clock::time_point*>(end->get()) - *static_cast<Clock::time_point*>(start->get());
    return std::chrono::duration<float, std::micro>(span).count();
  }
  void mark(const char*) const override {}
  void rangePush(const char*) const override {}
  void rangePop() const override {}
  bool enabled() const override { return true; }
  // Each device current in turn, as CUDA's stubs make it.
  void onEachDevice(std::function<void(int)> op) const override {
    struct Restore {
      c10::DeviceIndex device;
      ~Restore() { g_current_device = device; }
    } restore{g_current_device};
    for (int32_t device = 0; device < tr_device_count(); ++device) {
      g_current_device = static_cast<c10::DeviceIndex>(device);
      op(device);
    }
  }
  void synchronize() const override { tr_wait(g_current_device); }
};

// Random states live on the host, one per generator: the device's default (id 0) and each
// `torch.Generator(device="remote")`. This object remembers the seed it passed on.
struct RemoteGenerator final : c10::GeneratorImpl {
  static constexpr int64_t kStateBytes = 16;

  static uint64_t little_endian(const uint8_t* bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
    return value;
  }

  // A new generator starts from c10's default seed, as a new CPU or CUDA generator does (the
  // host knows better for a device's default one: see `current_seed`).
  explicit RemoteGenerator(c10::DeviceIndex device, uint64_t id)
      : c10::GeneratorImpl(c10::Device(kRemote, device), c10::DispatchKeySet(c10::DispatchKey::PrivateUse1)),
        id_(id),
        seed_(c10::default_rng_seed_val) {}

  // The host keeps a generator's random state until the generator is gone.
  ~RemoteGenerator() override {
    if (id_ != 0) tr_generator_release(device().index(), id_);
  }

  uint64_t id() const { return id_; }

  void set_current_seed(uint64_t seed) override {
    seed_ = seed;
    offset_ = 0;
    tr_generator_seed(device().index(), id_, seed, 0);
  }
  // Read from the host, where a device's default generator starts from a seed of its own
  // choosing, as the CPU's and CUDA's start from a random one.
  uint64_t current_seed() const override {
    auto [seed, offset] = std::pair{seed_, offset_};
    check(tr_generator_state(device().index(), id_, &seed, &offset));
    return seed;
  }
  uint64_t seed() override {
    set_current_seed(c10::detail::getNonDeterministicRandom());
    return seed_;
  }
  // The offset counts the random ops since the seed was set (the state's second half), and
  // lives on the host, where those ops run.
  void set_offset(uint64_t offset) override {
    // The seed too is the host's: `torch.manual_seed` sets the default generator's there.
    auto [seed, current] = std::pair{seed_, offset_};
    check(tr_generator_state(device().index(), id_, &seed, &current));
    seed_ = seed;
    offset_ = offset;
    tr_generator_seed(device().index(), id_, seed, offset);
  }
  uint64_t get_offset() const override {
    auto [seed, offset] = std::pair{seed_, offset_};
    check(tr_generator_state(device().index(), id_, &seed, &offset));
    return offset;
  }
  // The state is 16 bytes, the seed and the offset as little-endian uint64s: the layout
  // `torch.remote.get_rng_state` gives, so either state fits either setter, as on CUDA.
  void set_state(const c10::TensorImpl& state) override {
    TORCH_CHECK_TYPE(state.layout() == c10::kStrided && state.device().is_cpu() &&
                         state.dtype() == caffe2::TypeMeta::Make<uint8_t>(),
                     "RNG state must be a torch.ByteTensor");
    TORCH_CHECK(state.dim() == 1 && state.numel() == kStateBytes, "RNG state is wrong size: a remote random state is ",
                kStateBytes, " bytes, got ", state.numel());
    const auto* bytes = static_cast<const uint8_t*>(state.data());
    uint8_t packed[kStateBytes];
    for (int64_t i = 0; i < kStateBytes; ++i) packed[i] = bytes[i * state.stride(0)];
    seed_ = little_endian(packed);
    offset_ = little_endian(packed + 8);
    tr_generator_seed(device().index(), id_, seed_, offset_);
  }
  // A generator's state is read from the host, where its ops advanced it.
  c10::intrusive_ptr<c10::TensorImpl> get_state() const override {
    auto [seed, offset] = std::pair{seed_, offset_};
    check(tr_generator_state(device().index(), id_, &seed, &offset));
    auto state = at::empty({kStateBytes}, at::kByte);
    auto* bytes = state.data_ptr<uint8_t>();
    for (int i = 0; i < 8; ++i) {
      bytes[i] = static_cast<uint8_t>(seed >> (8 * i));
      bytes[8 + i] = static_cast<uint8_t>(offset >> (8 * i));
    }
    return state.getIntrusivePtr();
  }
  RemoteGenerator* clone_impl() const override {
    auto* copy = new RemoteGenerator(device().index(), next_id());
    copy->set_state(*get_state());
    return copy;
  }

  static uint64_t next_id() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }

 private:
  uint64_t id_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

uint64_t generator_id(const at::Generator& g) { return g.get<RemoteGenerator>()->id(); }

struct RemoteHooks final : at::PrivateUse1HooksInterface {
  // One default generator per device index, made on first use and never freed (PyTorch
  // holds references to them).
  const at::Generator& getDefaultGenerator(c10::DeviceIndex device) const override {
    static std::mutex lock;
    static std::vector<std::unique_ptr<at::Generator>> generators(tr_max_devices());
    const auto index = device < 0 ? g_current_device : device;
    std::lock_guard<std::mutex> guard(lock);
    auto& slot = generators.at(index);
    if (!slot) slot = std::make_unique<at::Generator>(at::make_generator<RemoteGenerator>(index, 0));
    return *slot;
  }
  at::Generator getNewGenerator(c10::DeviceIndex device) const override {
    return at::make_generator<RemoteGenerator>(device < 0 ? 0 : device, RemoteGenerator::next_id());
  }
  // Storages do not grow in place: the bytes move to a new storage on the host.
  void resizePrivateUse1Bytes(const c10::Storage& storage, size_t nbytes) const override {
    auto* impl = storage.unsafeGetStorageImpl();
    const auto old_id = reinterpret_cast<uint64_t>(impl->data_ptr().get_context());
    const uint64_t id = tr_storage_resize(old_id, impl->nbytes(), nbytes);
    TORCH_CHECK(id != 0, "remote: cannot resize a storage to ", nbytes, " bytes: ", tr_last_error());
    impl->set_data_ptr_noswap(data_ptr_for(id, impl->device().index()));
    impl->set_nbytes(nbytes);
  }
  bool isBuilt() const override { return true; }
  bool isAvailable() const override { return true; }
  bool hasPrimaryContext(c10::DeviceIndex) const override { return true; }
  c10::DeviceIndex deviceCount() const override { return static_cast<c10::DeviceIndex>(tr_device_count()); }
  c10::DeviceIndex getCurrentDevice() const override { return g_current_device; }
  void setCurrentDevice(c10::DeviceIndex d) const override { g_current_device = d; }
  at::Device getDeviceFromPtr(void*) const override { return c10::Device(kRemote, g_current_device); }
  bool isPinnedPtr(const void* data) const override { return PinnedAllocator::holds(data); }
  at::Allocator* getPinnedMemoryAllocator() const override { return &g_pinned; }
};

C10_REGISTER_GUARD_IMPL(PrivateUse1, RemoteGuardImpl);

TORCH_LIBRARY_IMPL(_, PrivateUse1, m) { m.fallback(torch::CppFunction::makeFromBoxedFunction<&fallback>()); }

// torchaudio's filter recursion has a composite kernel (three ops a sample) that would take
// remote tensors before the fallback could; remote's kernel is the guest's op. The dispatcher
// keeps the registration until torchaudio, if ever, defines the op.
TORCH_LIBRARY_IMPL(torchaudio, PrivateUse1, m) {
  m.impl("_lfilter_core_loop", torch::CppFunction::makeFromBoxedFunction<&fallback>());
}

// Layouts with no remote form: say so, naming the way around, rather than the dispatcher's
// missing-kernel message for a "Quantizedremote" (or "Sparseremote", ...) backend.
template <const char* Why>
void refuse_layout(const c10::OperatorHandle& op, torch::jit::Stack*) {
  TORCH_CHECK_NOT_IMPLEMENTED(false, op.schema().name(), Why);
}

constexpr char kQuantized[] =
    ": quantized tensors are not supported on remote; dequantize() them first, or keep quantized models on "
    "the CPU";
// The usual way in is a sparse gradient.
constexpr char kSparse[] =
    ": sparse tensors are not supported on remote; keep them on the CPU, or use dense gradients "
    "(nn.Embedding(..., sparse=False) and a dense optimizer)";
// `.to("remote")` of a CPU one makes them; the jagged layout is a Python subclass over plain
// tensors and works.
constexpr char kNested[] =
    ": strided nested tensors are not supported on remote; keep them on the CPU, or use layout=torch.jagged";

TORCH_LIBRARY_IMPL(_, QuantizedPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&refuse_layout<kQuantized>>());
}
TORCH_LIBRARY_IMPL(_, SparsePrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&refuse_layout<kSparse>>());
}
TORCH_LIBRARY_IMPL(_, SparseCsrPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&refuse_layout<kSparse>>());
}
TORCH_LIBRARY_IMPL(_, NestedTensorPrivateUse1, m) {
  m.fallback(torch::CppFunction::makeFromBoxedFunction<&refuse_layout<kNested>>());
}

// `Module.to("remote")` and `param.data = t` swap a tensor into the same Parameter, as they do
// for CUDA, only where PyTorch deems the two tensors shallow-copy compatible: core PyTorch
// knows its own dense backends and leaves PrivateUse1 to answer for itself. Strided tensors on
// the CPU and on remote are.
bool shallow_copy_compatible(const at::Tensor& self, const at::Tensor& from) {
  const auto dense = [](const at::Tensor& t) {
    return t.layout() == at::kStrided && (t.is_cpu() || t.device().type() == kRemote);
  };
  return dense(self) && dense(from);
}

// `ctc_loss` passes its lengths as tensors where an argument is wrapped (torch.func, a
// subclass). As the CPU's and CUDA's kernels do, they are read on the CPU (a wait for remote
// ones) and the int-list op runs, so the guest checks and shapes it as usual.
std::vector<int64_t> lengths_on_cpu(const at::Tensor& lengths, const char* name) {
  TORCH_CHECK(at::isIntegralType(lengths.scalar_type(), /*includeBool=*/false), name, " must be integral");
  const auto values = lengths.to(c10::Device(c10::kCPU), at::kLong).contiguous();
  const int64_t* first = values.const_data_ptr<int64_t>();
  return {first, first + values.numel()};
}

std::tuple<at::Tensor, at::Tensor> ctc_loss_of_length_tensors(const at::Tensor& log_probs, const at::Tensor& targets,
                                                              const at::Tensor& input_lengths,
                                                              const at::Tensor& target_lengths, int64_t blank,
                                                              bool zero_infinity) {
  return at::_ctc_loss(log_probs, targets, lengths_on_cpu(input_lengths, "input_lengths"),
                       lengths_on_cpu(target_lengths, "target_lengths"), blank, zero_infinity);
}

at::Tensor ctc_loss_backward_of_length_tensors(const at::Tensor& grad, const at::Tensor& log_probs,
                                               const at::Tensor& targets, const at::Tensor& input_lengths,
                                               const at::Tensor& target_lengths, const at::Tensor& neg_log_likelihood,
                                               const at::Tensor& log_alpha, int64_t blank, bool zero_infinity) {
  return at::_ctc_loss_backward(grad, log_probs, targets, lengths_on_cpu(input_lengths, "input_lengths"),
                                lengths_on_cpu(target_lengths, "target_lengths"), neg_log_likelihood, log_alpha,
                                blank, zero_infinity);
}

// `t` as a CPU tensor of the same sizes, strides, dtype and `requires_grad`, over memory that
// is never read.
at::Tensor unread_on_cpu(const at::Tensor& t) {
  static char never_read;
  auto cpu = at::from_blob(&never_read, t.sizes(), t.strides(), [](void*) {}, t.options().device(at::kCPU));
  return cpu.requires_grad_(t.requires_grad());
}

// The CPU's choice of attention kernel for these tensors. `_fused_sdp_choice_cpp` takes some
// layouts (a mask's last stride) only from CPU tensors, so it is shown them as CPU tensors;
// it reads their metadata only.
int64_t sdp_choice_as_on_the_cpu(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                 const std::optional<at::Tensor>& attn_mask, double dropout_p, bool is_causal,
                                 std::optional<double> scale, bool enable_gqa) {
  // Nested tensors have no strides to show, and torch.compile's symbolic sizes must stay
  // symbolic (reading them would fix each as a constant and recompile for every shape).
  const bool nested = query.is_nested() || key.is_nested() || value.is_nested();
  const auto symbolic = [](const at::Tensor& t) { return t.unsafeGetTensorImpl()->has_symbolic_sizes_strides(); };
  const bool mask_symbolic = attn_mask.has_value() && attn_mask->defined() && symbolic(*attn_mask);
  if (nested || symbolic(query) || symbolic(key) || symbolic(value) || mask_symbolic) {
    return at::native::_fused_sdp_choice_cpp(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa);
  }
  std::optional<at::Tensor> mask;
  if (attn_mask.has_value() && attn_mask->defined()) mask = unread_on_cpu(*attn_mask);
  return at::native::_fused_sdp_choice_cpp(unread_on_cpu(query), unread_on_cpu(key), unread_on_cpu(value), mask,
                                           dropout_p, is_causal, scale, enable_gqa);
}

}  // namespace
}  // namespace torch_remote

// `scaled_dot_product_attention` (PyTorch's composite) asks a device's `_fused_sdp_choice_stub`
// which kernel to run, and takes the math path (a dozen ops each way) for a device without
// one. Remote answers as the CPU does: where the CPU runs its fused kernel
// (`_scaled_dot_product_flash_attention_for_cpu`, its values and its layouts), so does remote,
// as one op each way.
namespace at::native {
REGISTER_PRIVATEUSE1_DISPATCH(_fused_sdp_choice_stub, &torch_remote::sdp_choice_as_on_the_cpu)
}  // namespace at::native

namespace torch_remote {
namespace {

TORCH_LIBRARY_IMPL(aten, PrivateUse1, m) {
  m.impl("_has_compatible_shallow_copy_type", TORCH_FN(shallow_copy_compatible));
  m.impl("_ctc_loss.Tensor", TORCH_FN(ctc_loss_of_length_tensors));
  m.impl("_ctc_loss_backward.Tensor", TORCH_FN(ctc_loss_backward_of_length_tensors));
  m.impl("_fused_sdp_choice", TORCH_FN(sdp_choice_as_on_the_cpu));
}

// Copies to and from remote reach `_copy_from`, whose schema does not mark `dst` as written:
// PyTorch's math-bit fallbacks would copy into a resolved clone of a conjugate or negative
// `dst`. Only devices like remote call these ops, and the fallback above handles the bits.
TORCH_LIBRARY_IMPL(aten, Conjugate, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}
TORCH_LIBRARY_IMPL(aten, Negative, m) {
  m.impl("_copy_from", torch::CppFunction::makeFallthrough());
  m.impl("_copy_from_and_resize", torch::CppFunction::makeFallthrough());
}


}  // namespace
}  // namespace torch_remote

namespace torch_remote_autocast {
// PyTorch's op lists name these types unqualified.
using at::IntArrayRef;
using at::Scalar;
using at::ScalarType;
using at::Tensor;

// CUDA's autocast refuses binary_cross_entropy (its own function is not exported): in half
// precision the loss of a near-certain prediction rounds to nothing.
Tensor binary_cross_entropy_banned(const Tensor&, const Tensor&, const std::optional<Tensor>&, int64_t) {
  TORCH_CHECK(false,
              "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
              "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
              "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
              "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
              "safe to autocast.");
}

// `torch.autocast(device_type="remote")` follows CUDA's policy, with PyTorch's own op lists:
// inputs are cast (by remote ops) before the op itself is dispatched.
TORCH_LIBRARY_IMPL(_, AutocastPrivateUse1, m) { m.fallback(torch::CppFunction::makeFallthrough()); }

TORCH_LIBRARY_IMPL(aten, AutocastPrivateUse1, m) {
#define TR_LOWER_PRECISION_FP(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, lower_precision_fp)
  AT_FORALL_LOWER_PRECISION_FP(TR_LOWER_PRECISION_FP)
#define TR_FP32(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32)
  AT_FORALL_FP32(TR_FP32)
#define TR_FP32_SET_OPT_DTYPE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, fp32_set_opt_dtype)
  AT_FORALL_FP32_SET_OPT_DTYPE(TR_FP32_SET_OPT_DTYPE)
  AT_FORALL_DIFFERENT_REDISPATCH_SIGNATURE(KERNEL_DIFFERENT_REDISPATCH_SIGNATURE_PRIVATEUSEONE)
#define TR_PROMOTE(...) KERNEL_PRIVATEUSEONE(__VA_ARGS__, promote)
  AT_FORALL_PROMOTE(TR_PROMOTE)
  m.impl(TORCH_SELECTIVE_NAME("aten::binary_cross_entropy"), TORCH_FN(binary_cross_entropy_banned));
  // `torch.is_autocast_enabled()` asks about CUDA only, so under remote's autocast, as under the
  // CPU's, nn.MultiheadAttention and nn.TransformerEncoderLayer take their fused inference path;
  // the CPU lists the first for lower precision, and the second runs its matmuls in it.
  KERNEL_PRIVATEUSEONE(_native_multi_head_attention, lower_precision_fp)
  KERNEL_PRIVATEUSEONE(_transformer_encoder_layer_fwd, lower_precision_fp)
}

// Under autocast, torchvision's compiled ops run in float32 and give floating results back in
// their first input's dtype, as torchvision's own autocast kernels for the CPU and CUDA do
// (it has none for other devices). By name: torchvision may be imported later, or never.
void float32_then_back(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastPrivateUse1);
  std::optional<ScalarType> first;
  for (auto it = stack->end() - op.schema().arguments().size(); it != stack->end(); ++it) {
    if (!it->isTensor()) continue;
    const Tensor t = it->toTensor();
    if (!first) first = t.scalar_type();
    if (t.is_floating_point() && t.scalar_type() != at::kDouble) *it = t.to(at::kFloat);
  }
  op.callBoxed(stack);
  for (auto it = stack->end() - op.schema().returns().size(); it != stack->end(); ++it) {
    if (first && it->isTensor() && it->toTensor().is_floating_point()) *it = it->toTensor().to(*first);
  }
}

TORCH_LIBRARY_IMPL(torchvision, AutocastPrivateUse1, m) {
  for (const char* name : {"nms", "roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool", "deform_conv2d"}) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&float32_then_back>());
  }
}
}  // namespace torch_remote_autocast

namespace torch_remote {
namespace {

// Copies between devices must keep PyTorch's composite path, which sorts out who is who.
bool keeps_composite(const std::string& name) {
  return name == "copy_" || name == "_to_copy" || name == "_copy_from" || name == "_copy_from_and_resize";
}

// Composite-implicit ops must stay decomposed: autograd relies on it. Except where the CPU and
// CUDA run one with their own kernels (`silu_backward`): the composite is a fallback for other
// backends, and their autograd kernel (its derivative formula) is what then runs, as on CUDA;
// decomposed, a bfloat16 op would round between the steps the kernel does in float.
bool runs_directly(const c10::OperatorHandle& op) {
  using c10::DispatchKey;
  return !op.hasKernelForDispatchKey(DispatchKey::CompositeImplicitAutograd) ||
         (op.hasKernelForDispatchKey(DispatchKey::CPU) && op.hasKernelForDispatchKey(DispatchKey::CUDA));
}

// Registers the fallback as the PrivateUse1 kernel of each op the guest runs, so that
// composite kernels (a structured op's meta function, then its `.out`) do not run first:
// one guest call per op, and the guest's own argument checks and messages.
void register_direct_kernels(const char* const* names, uint64_t count) {
  static torch::Library library(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string entry = names[i];
    const auto dot = entry.find('.');
    const std::string name = entry.substr(0, dot);
    const std::string overload = dot == std::string::npos ? "" : entry.substr(dot + 1);
    if (keeps_composite(name)) continue;
    auto op = c10::Dispatcher::singleton().findOp({"aten::" + name, overload});
    if (!op || !runs_directly(*op)) continue;
    library.impl(overload.empty() ? name.c_str() : entry.c_str(),
                 torch::CppFunction::makeFromBoxedFunction<&fallback>());
  }
}

}  // namespace
}  // namespace torch_remote

// This thread's current remote device.
extern "C" int32_t tr_current_device() { return torch_remote::g_current_device; }

extern "C" void tr_set_current_device(int32_t device) {
  torch_remote::g_current_device = static_cast<c10::DeviceIndex>(device);
}

namespace torch_remote {
void register_recurrent();  // csrc/recurrent.cpp
}  // namespace torch_remote

// Called once from Rust at import with every `name.overload` the guest runs. The static
// registrations above live in this translation unit, and referencing it keeps the linker
// from dropping them.
extern "C" void tr_register(const char* const* names, uint64_t count) {
  static torch_remote::RemoteHooks hooks;
  at::RegisterPrivateUse1HooksInterface(&hooks);
  c10::SetAllocator(c10::DeviceType::PrivateUse1, &torch_remote::g_allocator);
  torch_remote::register_direct_kernels(names, count);
  torch_remote::register_recurrent();
  // Never freed: PyTorch may call them until the process ends.
  torch::profiler::impl::registerPrivateUse1Methods(new torch_remote::RemoteProfilerStubs());
}
