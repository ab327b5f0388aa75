// libtorch backwards that tch does not bind (their `bool[N]` output masks), called from
// `host/src/kernels/aten.rs`. Tensors cross as `at::Tensor*`, tch's own representation:
// inputs are borrowed, outputs are new heap tensors that the caller owns (null where the
// mask did not ask for one). Each function returns 0, or 1 with libtorch's message in
// `error`.

#include <ATen/ATen.h>

#include <optional>
#include <tuple>

#include "guarded.h"

namespace {

using trh::guarded;

std::optional<at::Tensor> optional(const at::Tensor* t) {
  return t == nullptr ? std::nullopt : std::optional<at::Tensor>(*t);
}

template <typename... T>
void hand_over(std::tuple<T...> grads, at::Tensor** out) {
  size_t i = 0;
  std::apply(
      [&](auto&... grad) {
        ((out[i++] = grad.defined() ? new at::Tensor(std::move(grad)) : nullptr), ...);
      },
      grads);
}

}  // namespace

extern "C" int trh_convolution_backward(const at::Tensor* grad, const at::Tensor* input,
                                        const at::Tensor* weight, int64_t bias_len,
                                        const int64_t* stride, const int64_t* padding,
                                        const int64_t* dilation, const int64_t* output_padding,
                                        size_t dims, bool transposed, int64_t groups,
                                        const bool* mask, at::Tensor** out, char* error,
                                        size_t capacity) {
  return guarded(
      [&] {
        std::optional<at::IntArrayRef> bias_sizes;
        if (bias_len >= 0) {
          bias_sizes = at::IntArrayRef(&bias_len, 1);
        }
        hand_over(at::convolution_backward(*grad, *input, *weight, bias_sizes,
                                           at::IntArrayRef(stride, dims),
                                           at::IntArrayRef(padding, dims),
                                           at::IntArrayRef(dilation, dims), transposed,
                                           at::IntArrayRef(output_padding, dims), groups,
                                           {mask[0], mask[1], mask[2]}),
                  out);
      },
      error, capacity);
}

extern "C" int trh_native_batch_norm_backward(
    const at::Tensor* grad, const at::Tensor* input, const at::Tensor* weight,
    const at::Tensor* running_mean, const at::Tensor* running_var, const at::Tensor* save_mean,
    const at::Tensor* save_invstd, bool training, double eps, const bool* mask, at::Tensor** out,
    char* error, size_t capacity) {
  return guarded(
      [&] {
        hand_over(at::native_batch_norm_backward(
                      *grad, *input, optional(weight), optional(running_mean),
                      optional(running_var), optional(save_mean), optional(save_invstd),
                      training, eps, {mask[0], mask[1], mask[2]}),
                  out);
      },
      error, capacity);
}

extern "C" int trh_grid_sampler_backward(const at::Tensor* grad, const at::Tensor* input,
                                         const at::Tensor* grid, int64_t interpolation,
                                         int64_t padding, bool align_corners, bool volumetric,
                                         const bool* mask, at::Tensor** out, char* error,
                                         size_t capacity) {
  return guarded(
      [&] {
        auto backward = volumetric ? at::grid_sampler_3d_backward : at::grid_sampler_2d_backward;
        hand_over(backward(*grad, *input, *grid, interpolation, padding, align_corners,
                           {mask[0], mask[1]}),
                  out);
      },
      error, capacity);
}

// The CPU's kernels read `mean` and `rstd` as dense runs: they are made contiguous here.
extern "C" int trh_native_layer_norm_backward(const at::Tensor* grad, const at::Tensor* input,
                                              const int64_t* normalized_shape, size_t dims,
                                              const at::Tensor* mean, const at::Tensor* rstd,
                                              const at::Tensor* weight, const at::Tensor* bias,
                                              const bool* mask, at::Tensor** out, char* error,
                                              size_t capacity) {
  return guarded(
      [&] {
        hand_over(at::native_layer_norm_backward(
                      *grad, *input, at::IntArrayRef(normalized_shape, dims), mean->contiguous(),
                      rstd->contiguous(), optional(weight), optional(bias),
                      {mask[0], mask[1], mask[2]}),
                  out);
      },
      error, capacity);
}

extern "C" int trh_native_group_norm_backward(const at::Tensor* grad, const at::Tensor* input,
                                              const at::Tensor* mean, const at::Tensor* rstd,
                                              const at::Tensor* weight, int64_t n, int64_t c,
                                              int64_t hxw, int64_t groups, const bool* mask,
                                              at::Tensor** out, char* error, size_t capacity) {
  return guarded(
      [&] {
        // The CPU kernel reads its tensors as dense in the input's format: autograd hands it
        // such, but a client may send views (an expanded gradient) it would read past.
        const auto format = input->suggest_memory_format();
        auto w = optional(weight);
        if (w) w = w->contiguous();
        hand_over(at::native_group_norm_backward(grad->contiguous(format), input->contiguous(format),
                                                 mean->contiguous(), rstd->contiguous(), w, n, c, hxw,
                                                 groups, {mask[0], mask[1], mask[2]}),
                  out);
      },
      error, capacity);
}

// The buffer `log_sigmoid_forward` saves (`exp(-|x|)` as its vectorised kernel rounds it),
// which `log_sigmoid_backward` reads: tch binds neither output of the forward.
extern "C" int trh_log_sigmoid_buffer(const at::Tensor* input, at::Tensor** out, char* error,
                                      size_t capacity) {
  return guarded([&] { *out = new at::Tensor(std::get<1>(at::log_sigmoid_forward(*input))); },
                 error, capacity);
}

// `nll_loss_forward` (or `nll_loss2d_forward` where `spatial`): the loss and the total weight
// its backward divides by, which tch's `nll_loss` does not return.
extern "C" int trh_nll_loss_forward(const at::Tensor* input, const at::Tensor* target,
                                    const at::Tensor* weight, int64_t reduction,
                                    int64_t ignore_index, bool spatial, at::Tensor** out,
                                    char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto w = optional(weight);
        hand_over(spatial ? at::nll_loss2d_forward(*input, *target, w, reduction, ignore_index)
                          : at::nll_loss_forward(*input, *target, w, reduction, ignore_index),
                  out);
      },
      error, capacity);
}
