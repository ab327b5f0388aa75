// How the host's C++ shims (backward.cpp, numbers.cpp) report libtorch's errors to Rust:
// each exported function returns 0, or 1 with libtorch's message in `error`.

#pragma once

#include <ATen/ATen.h>

#include <cstring>
#include <exception>

namespace trh {

inline void report(const char* message, char* error, size_t capacity) {
  if (capacity == 0) {
    return;
  }
  std::strncpy(error, message, capacity - 1);
  error[capacity - 1] = '\0';
}

// Runs `f`, turning a libtorch error into 1 and its message (no C++ backtrace).
template <typename F>
int guarded(F f, char* error, size_t capacity) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    report(e.what_without_backtrace(), error, capacity);
  } catch (const std::exception& e) {
    report(e.what(), error, capacity);
  }
  return 1;
}

}  // namespace trh
