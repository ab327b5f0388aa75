// The host's CPU allocator: PyTorch's own, except that freed blocks of 1 MiB or more are kept
// for reuse, up to a budget of bytes, as CUDA's caching allocator keeps device memory. The C
// library hands out such blocks as fresh mappings whose pages the kernel faults in and zeroes
// one by one on first touch: a 256 MiB upload spent a third of its time in those faults, and
// so does every large op result. Installed by the host binary (`host/src/memory.rs`) only,
// never in a client's process.

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace {

// Smaller blocks come from malloc's own free lists already.
constexpr size_t kCachedFrom = size_t{1} << 20;
// Sizes are rounded up to this, so that blocks of nearly the same size are reused.
constexpr size_t kGranule = size_t{2} << 20;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    // A size that rounding would wrap is one malloc refuses anyway.
    if (n < kCachedFrom || n > SIZE_MAX - kGranule) {
      return c10::GetDefaultCPUAllocator()->allocate(n);
    }
    size_t size = (n + kGranule - 1) / kGranule * kGranule;
    void* ptr = take(size);
    if (ptr == nullptr) {
      ptr = fresh(size);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(ptr, size);
    }
    return {ptr, ptr, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // libtorch's own buffers (`raw_allocate`) come back through this, small ones included.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, size_t count) const override {
    default_copy_data(dest, src, count);
  }

  void set_budget(size_t budget) {
    std::lock_guard<std::mutex> lock(mutex_);
    budget_ = budget;
    trim_locked(budget);
  }

  void trim(size_t keep) {
    std::lock_guard<std::mutex> lock(mutex_);
    trim_locked(keep);
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  static void release(void* ptr);

  void* take(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(size);
    if (found == free_.end()) {
      return nullptr;
    }
    void* ptr = found->second;
    free_.erase(found);
    cached_ -= size;
    return ptr;
  }

  // Memory the cache holds is given back before a fresh block is refused.
  void* fresh(size_t size) {
    try {
      return c10::alloc_cpu(size);
    } catch (const c10::Error&) {
      trim(0);
      return c10::alloc_cpu(size);
    }
  }

  // Keeps `ptr` if it is a large block within the budget; frees it otherwise.
  void give_back(void* ptr) {
    bool large = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = live_.find(ptr);
      if (found != live_.end()) {
        large = true;
        size_t size = found->second;
        live_.erase(found);
        if (cached_ + size <= budget_) {
          free_.emplace(size, ptr);
          cached_ += size;
          return;
        }
      }
    }
    if (large) {
      c10::free_cpu(ptr);
    } else {
      c10::GetDefaultCPUAllocator()->raw_deleter()(ptr);
    }
  }

  void trim_locked(size_t keep) {
    while (cached_ > keep && !free_.empty()) {
      auto largest = std::prev(free_.end());
      c10::free_cpu(largest->second);
      cached_ -= largest->first;
      free_.erase(largest);
    }
  }

  std::mutex mutex_;
  // Large blocks in use, by address, with their rounded sizes.
  std::unordered_map<void*, size_t> live_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
  size_t budget_ = 0;
};

// Never destroyed: blocks may be released during static destruction at exit.
CachingCpuAllocator& instance() {
  static auto* allocator = new CachingCpuAllocator();
  return *allocator;
}

void CachingCpuAllocator::release(void* ptr) {
  instance().give_back(ptr);
}

}  // namespace

// Makes the cache libtorch's CPU allocator, keeping at most `budget` bytes of freed blocks.
extern "C" void trh_cache_cpu_blocks(size_t budget) {
  instance().set_budget(budget);
  c10::SetCPUAllocator(&instance(), /*priority=*/1);
}

// Frees the cached blocks.
extern "C" void trh_empty_cpu_cache() {
  instance().trim(0);
}

extern "C" size_t trh_cpu_cache_bytes() {
  return instance().cached_bytes();
}
