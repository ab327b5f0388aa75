// aten calls with Python numbers as PyTorch's own Python binding passes them, which tch
// cannot make: a number as a wrapped-number tensor, and the number parameters tch's
// bindings drop (`alpha` of add/sub and index_add, `value` of addcmul/addcdiv, `beta` and
// `alpha` of addmm/baddbmm, those of elu, softplus and softshrink), and the optional ones tch
// cannot leave out (`initial` of segment_reduce). The kernels then take the number whole (in float for bfloat16 and half
// tensors), as on PyTorch's CPU and CUDA, instead of rounded to the tensors' dtype first.
// Called from `host/src/kernels/numbers.rs`. Tensors cross as `at::Tensor*` (tch's own
// representation): inputs are borrowed, the result is a new heap tensor the caller owns.

#include <ATen/ATen.h>
#include <ATen/ScalarOps.h>

#include <cstdint>

#include "guarded.h"

// A Python number; `kind` says which field holds it.
struct trh_number {
  int32_t kind;  // 0 int, 1 float, 2 bool (in `integer`), 3 complex
  int64_t integer;
  double real;
  double imag;
};

enum trh_activation_op : int32_t { TRH_ELU = 0, TRH_SOFTPLUS = 1, TRH_SOFTSHRINK = 2 };

namespace {

using trh::guarded;

c10::Scalar scalar_of(const trh_number& n) {
  switch (n.kind) {
    case 0:
      return c10::Scalar(n.integer);
    case 1:
      return c10::Scalar(n.real);
    case 2:
      return c10::Scalar(n.integer != 0);
    default:
      return c10::Scalar(c10::complex<double>(n.real, n.imag));
  }
}

}  // namespace

// The 0-dim CPU tensor PyTorch makes of a Python number (`wrapped_scalar_tensor`): type
// promotion ranks it below every tensor, and kernels read it as a scalar.
extern "C" int trh_wrapped_number(const trh_number* n, at::Tensor** out, char* error,
                                  size_t capacity) {
  return guarded(
      [&] {
        auto t = c10::scalar_to_tensor(scalar_of(*n));
        t.unsafeGetTensorImpl()->set_wrapped_number(true);
        *out = new at::Tensor(std::move(t));
      },
      error, capacity);
}

// `a + alpha * b`, or `a - alpha * b`; into `a` where `in_place`.
extern "C" int trh_add(const at::Tensor* a, const at::Tensor* b, const trh_number* alpha,
                       bool subtract, bool in_place, at::Tensor** out, char* error,
                       size_t capacity) {
  return guarded(
      [&] {
        const auto s = scalar_of(*alpha);
        if (in_place) {
          *out = new at::Tensor(subtract ? a->sub_(*b, s) : a->add_(*b, s));
        } else {
          *out = new at::Tensor(subtract ? at::sub(*a, *b, s) : at::add(*a, *b, s));
        }
      },
      error, capacity);
}

// `a + value * b * c`, or `a + value * b / c`; into `a` where `in_place`.
extern "C" int trh_addcmul(const at::Tensor* a, const at::Tensor* b, const at::Tensor* c,
                           const trh_number* value, bool divide, bool in_place,
                           at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto v = scalar_of(*value);
        if (in_place) {
          *out = new at::Tensor(divide ? a->addcdiv_(*b, *c, v) : a->addcmul_(*b, *c, v));
        } else {
          *out = new at::Tensor(divide ? at::addcdiv(*a, *b, *c, v) : at::addcmul(*a, *b, *c, v));
        }
      },
      error, capacity);
}

// `beta * bias + alpha * (a @ b)`, of matrices or (`batched`) of batches of them.
extern "C" int trh_addmm(const at::Tensor* bias, const at::Tensor* a, const at::Tensor* b,
                         const trh_number* beta, const trh_number* alpha, bool batched,
                         at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto s = scalar_of(*beta);
        const auto t = scalar_of(*alpha);
        *out = new at::Tensor(batched ? at::baddbmm(*bias, *a, *b, s, t)
                                      : at::addmm(*bias, *a, *b, s, t));
      },
      error, capacity);
}

// `beta * bias + alpha * (mat @ vec)` by the CPU's gemv, or `mat @ vec` without a bias.
extern "C" int trh_addmv(const at::Tensor* bias, const at::Tensor* mat, const at::Tensor* vec,
                         const trh_number* beta, const trh_number* alpha, at::Tensor** out,
                         char* error, size_t capacity) {
  return guarded(
      [&] {
        *out = new at::Tensor(bias == nullptr ? at::mv(*mat, *vec)
                                              : at::addmv(*bias, *mat, *vec, scalar_of(*beta),
                                                          scalar_of(*alpha)));
      },
      error, capacity);
}

// `x` with `alpha * source` added at `index` along `dim`.
extern "C" int trh_index_add(const at::Tensor* x, int64_t dim, const at::Tensor* index,
                             const at::Tensor* source, const trh_number* alpha,
                             at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] { *out = new at::Tensor(at::index_add(*x, dim, *index, *source, scalar_of(*alpha))); },
      error, capacity);
}

// elu(alpha, scale, input_scale), softplus(beta, threshold), softshrink(lambda).
extern "C" int trh_activation(int32_t op, const at::Tensor* x, const trh_number* params,
                              at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] {
        switch (op) {
          case TRH_ELU:
            *out = new at::Tensor(
                at::elu(*x, scalar_of(params[0]), scalar_of(params[1]), scalar_of(params[2])));
            break;
          case TRH_SOFTPLUS:
            *out = new at::Tensor(at::softplus(*x, scalar_of(params[0]), scalar_of(params[1])));
            break;
          case TRH_SOFTSHRINK:
            *out = new at::Tensor(at::softshrink(*x, scalar_of(params[0])));
            break;
          default:
            TORCH_CHECK(false, "activation ", op, " is not one of elu, softplus, softshrink");
        }
      },
      error, capacity);
}

// `segment_reduce` over `bounds` (offsets where `offsets`, else lengths), starting each
// segment from `initial` when it is not null: tch cannot leave the optional number out.
extern "C" int trh_segment_reduce(const at::Tensor* data, const char* reduce, const at::Tensor* bounds,
                                  bool offsets, int64_t axis, bool unchecked, const trh_number* initial,
                                  at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto start = initial ? std::optional<c10::Scalar>(scalar_of(*initial)) : std::nullopt;
        const auto lengths = offsets ? std::nullopt : std::optional<at::Tensor>(*bounds);
        const auto starts = offsets ? std::optional<at::Tensor>(*bounds) : std::nullopt;
        *out = new at::Tensor(at::segment_reduce(*data, reduce, lengths, std::nullopt, starts, axis, unchecked, start));
      },
      error, capacity);
}

// `_segment_reduce_backward` of `segment_reduce` above.
extern "C" int trh_segment_reduce_backward(const at::Tensor* grad, const at::Tensor* output, const at::Tensor* data,
                                           const char* reduce, const at::Tensor* bounds, bool offsets, int64_t axis,
                                           const trh_number* initial, at::Tensor** out, char* error,
                                           size_t capacity) {
  return guarded(
      [&] {
        const auto start = initial ? std::optional<c10::Scalar>(scalar_of(*initial)) : std::nullopt;
        const auto lengths = offsets ? std::nullopt : std::optional<at::Tensor>(*bounds);
        const auto starts = offsets ? std::optional<at::Tensor>(*bounds) : std::nullopt;
        *out = new at::Tensor(at::_segment_reduce_backward(*grad, *output, *data, reduce, lengths, starts, axis, start));
      },
      error, capacity);
}
