// libtorch's fused optimizer steps (`_fused_adam_`, `_fused_adamw_`, `_fused_sgd_`,
// `_fused_adagrad_`), which tch does not bind, called from `host/src/kernels/optim.rs`: the
// very kernels PyTorch runs for `fused=True`, so a step rounds as the CPU's (or CUDA's) does.
// `state` holds the step's lists one after another, `n` tensors each, borrowed; the step
// updates them in place. Each function returns 0, or 1 with libtorch's message in `error`.

#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "guarded.h"

namespace {

using trh::guarded;

// List `k` of `state`.
std::vector<at::Tensor> list(const at::Tensor* const* state, size_t n, size_t k) {
  std::vector<at::Tensor> tensors;
  tensors.reserve(n);
  for (size_t i = 0; i < n; ++i) tensors.push_back(*state[k * n + i]);
  return tensors;
}

std::optional<at::Tensor> optional(const at::Tensor* t) {
  return t == nullptr ? std::nullopt : std::optional<at::Tensor>(*t);
}

}  // namespace

// Lists: params, grads, exp_avgs, exp_avg_sqs[, max_exp_avg_sqs where amsgrad], state_steps.
extern "C" int trh_fused_adam(const at::Tensor* const* state, size_t n, double lr, double beta1,
                              double beta2, double weight_decay, double eps, bool amsgrad,
                              bool maximize, bool decoupled, const at::Tensor* grad_scale,
                              const at::Tensor* found_inf, char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto max_sqs = amsgrad ? list(state, n, 4) : std::vector<at::Tensor>{};
        const auto steps = list(state, n, amsgrad ? 5 : 4);
        auto params = list(state, n, 0), grads = list(state, n, 1);
        auto exp_avgs = list(state, n, 2), exp_avg_sqs = list(state, n, 3);
        if (decoupled) {
          at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps, lr, beta1, beta2,
                            weight_decay, eps, amsgrad, maximize, optional(grad_scale),
                            optional(found_inf));
        } else {
          at::_fused_adam_(params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps, lr, beta1, beta2,
                           weight_decay, eps, amsgrad, maximize, optional(grad_scale),
                           optional(found_inf));
        }
      },
      error, capacity);
}

// Lists: params, grads[, momentum_buffers where momentum is not 0].
extern "C" int trh_fused_sgd(const at::Tensor* const* state, size_t n, double lr,
                             double weight_decay, double momentum, double dampening,
                             bool nesterov, bool maximize, bool is_first_step,
                             const at::Tensor* grad_scale, const at::Tensor* found_inf,
                             char* error, size_t capacity) {
  return guarded(
      [&] {
        const auto buffers = momentum != 0.0 ? list(state, n, 2) : std::vector<at::Tensor>{};
        at::_fused_sgd_(list(state, n, 0), list(state, n, 1), buffers, weight_decay, momentum, lr,
                        dampening, nesterov, maximize, is_first_step, optional(grad_scale),
                        optional(found_inf));
      },
      error, capacity);
}

// Lists: params, grads, state_sums, state_steps.
extern "C" int trh_fused_adagrad(const at::Tensor* const* state, size_t n, double lr,
                                 double lr_decay, double weight_decay, double eps, bool maximize,
                                 const at::Tensor* grad_scale, const at::Tensor* found_inf,
                                 char* error, size_t capacity) {
  return guarded(
      [&] {
        at::_fused_adagrad_(list(state, n, 0), list(state, n, 1), list(state, n, 2),
                            list(state, n, 3), lr, lr_decay, weight_decay, eps, maximize,
                            optional(grad_scale), optional(found_inf));
      },
      error, capacity);
}
