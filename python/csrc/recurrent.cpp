// `nn.LSTM`, `nn.GRU` and `nn.RNN` on remote: one op per layer and direction instead of the
// per-step composite that PyTorch falls back to outside CPU and cuDNN (a dozen ops per step
// and layer). An LSTM layer is `mkldnn_rnn_layer`, the op PyTorch's CPU LSTM runs, with
// PyTorch's own autograd formula; a GRU or RNN layer is remote's `torch_remote::rnn_layer`,
// differentiated below (twice, for `create_graph`, through PyTorch's composite).
// No semantics live here: the guest checks and shapes each layer op; this file strings the
// layers together as PyTorch's composite does (directions side by side, dropout between
// layers) and leaves every other case (projections, autocast, FakeTensors, odd states) to it.

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/gru_compositeimplicitautograd_dispatch.h>
#include <ATen/ops/lstm_compositeimplicitautograd_dispatch.h>
#include <ATen/ops/mkldnn_rnn_layer.h>
#include <ATen/ops/rnn_relu_compositeimplicitautograd_dispatch.h>
#include <ATen/ops/rnn_tanh_compositeimplicitautograd_dispatch.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

namespace torch_remote {
namespace {

// PyTorch's RNN code numbers the modes as cuDNN does.
enum Mode : int64_t { kRnnRelu = 0, kRnnTanh = 1, kLstm = 2, kGru = 3 };

using Composite = std::tuple<at::Tensor, at::Tensor> (*)(const at::Tensor&, const at::Tensor&, at::TensorList, bool,
                                                           int64_t, double, bool, bool, bool);

Composite composite(int64_t mode) {
  switch (mode) {
    case kRnnRelu:
      return at::compositeimplicitautograd::rnn_relu;
    case kRnnTanh:
      return at::compositeimplicitautograd::rnn_tanh;
    default:
      return at::compositeimplicitautograd::gru;
  }
}

std::optional<at::Tensor> given(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

using RnnLayerOp = std::tuple<at::Tensor, at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
    const std::optional<at::Tensor>&, const at::Tensor&, int64_t, bool);
using RnnLayerBackwardOp = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
    const std::optional<at::Tensor>&, const std::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&,
    const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, bool, bool);

template <typename Signature>
c10::TypedOperatorHandle<Signature> remote_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

// A GRU or RNN layer's gradients once more, differentiably: PyTorch's composite recomputes
// the layer from the saved inputs, and autograd differentiates that.
torch::autograd::variable_list differentiable_backward(const torch::autograd::variable_list& saved,
                                                       const torch::autograd::variable_list& grads, int64_t mode,
                                                       bool reverse) {
  const auto& [input, w_ih, w_hh, b_ih, b_hh, hx] =
      std::tie(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
  std::vector<at::Tensor> params{w_ih, w_hh};
  if (b_ih.defined()) params.insert(params.end(), {b_ih, b_hh});
  auto [output, hy] = composite(mode)(reverse ? input.flip(0) : input, hx.unsqueeze(0), params, b_ih.defined(), 1,
                                      0.0, true, false, false);
  if (reverse) output = output.flip(0);
  std::vector<at::Tensor> outputs, grad_outputs, wanted;
  for (const auto& [result, grad] : {std::pair{output, grads[0]}, std::pair{hy.squeeze(0), grads[1]}}) {
    if (grad.defined()) {
      outputs.push_back(result);
      grad_outputs.push_back(grad);
    }
  }
  std::vector<size_t> slots;
  for (size_t i = 0; i < 6; ++i) {
    if (saved[i].defined() && saved[i].requires_grad()) {
      wanted.push_back(saved[i]);
      slots.push_back(i);
    }
  }
  torch::autograd::variable_list result(8);
  if (outputs.empty() || wanted.empty()) return result;
  const auto found = torch::autograd::grad(outputs, wanted, grad_outputs, true, true, true);
  for (size_t i = 0; i < slots.size(); ++i) result[slots[i]] = found[i];
  return result;
}

// `torch_remote::rnn_layer` with its backward `torch_remote::rnn_layer_backward`.
struct RnnLayer : torch::autograd::Function<RnnLayer> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input,
                                                const at::Tensor& w_ih, const at::Tensor& w_hh,
                                                const std::optional<at::Tensor>& b_ih,
                                                const std::optional<at::Tensor>& b_hh, const at::Tensor& hx,
                                                int64_t mode, bool reverse) {
    static const auto op = remote_op<RnnLayerOp>("torch_remote::rnn_layer");
    auto [output, hy, workspace] = op.call(input, w_ih, w_hh, b_ih, b_hh, hx, mode, reverse);
    const auto none = at::Tensor();
    ctx->save_for_backward({input, w_ih, w_hh, b_ih.value_or(none), b_hh.value_or(none), hx, output, workspace});
    ctx->saved_data["mode"] = mode;
    ctx->saved_data["reverse"] = reverse;
    ctx->mark_non_differentiable({workspace});
    // Undefined gradients stay undefined (zeros would give the inputs zero gradients where
    // PyTorch's composite layer gives them none).
    ctx->set_materialize_grads(false);
    return {output, hy, workspace};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    static const auto op = remote_op<RnnLayerBackwardOp>("torch_remote::rnn_layer_backward");
    if (!grads[0].defined() && !grads[1].defined()) return torch::autograd::variable_list(8);
    const auto saved = ctx->get_saved_variables();
    const int64_t mode = ctx->saved_data["mode"].toInt();
    const bool reverse = ctx->saved_data["reverse"].toBool();
    if (at::GradMode::is_enabled()) return differentiable_backward(saved, grads, mode, reverse);
    auto [input, w_ih, w_hh, b_ih, b_hh, hx] =
        op.call(given(grads[0]), given(grads[1]), saved[0], saved[1], saved[2], saved[5], saved[6], saved[7], mode,
                reverse, saved[3].defined());
    return {input, w_ih, w_hh, b_ih, b_hh, hx, at::Tensor(), at::Tensor()};
  }
};

// The layers of an `nn.LSTM`, `nn.GRU` or `nn.RNN` and the flags of the call.
struct Stack {
  int64_t mode;
  at::TensorList params;
  bool has_biases;
  int64_t num_layers;
  double dropout;
  bool train;
  bool bidirectional;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t per_direction() const { return has_biases ? 4 : 2; }

  // The plain case (no projections; one state per layer and direction) on real remote
  // tensors, outside autocast (whose casts PyTorch lists for the per-step ops) and forward-mode
  // AD (the layer ops have no forward derivative; the per-step ops do).
  bool runs_by_layer(const at::Tensor& input, at::TensorList states) const {
    const auto wrapped = c10::DispatchKeySet({c10::DispatchKey::Python, c10::DispatchKey::FuncTorchGradWrapper,
                                              c10::DispatchKey::FuncTorchBatched});
    const auto& hx = states[0];
    return !at::autocast::is_autocast_enabled(at::kPrivateUse1) && !input.key_set().has_any(wrapped) &&
           input.dim() == 3 && input.numel() > 0 && hx.dim() == 3 && hx.size(0) == num_layers * directions() &&
           static_cast<int64_t>(params.size()) == num_layers * directions() * per_direction() &&
           !has_tangent(input) && std::none_of(states.begin(), states.end(), has_tangent) &&
           std::none_of(params.begin(), params.end(), has_tangent);
  }

  // Whether `t` is a dual tensor of forward-mode AD (whose one public level is 0).
  static bool has_tangent(const at::Tensor& t) { return t.defined() && t._fw_grad(/*level=*/0).defined(); }

  // One layer and direction: its output, and its final states (an LSTM's two, else one).
  std::pair<at::Tensor, std::vector<at::Tensor>> layer(const at::Tensor& input, at::TensorList w,
                                                       at::TensorList hx, int64_t index, bool reverse) const {
    if (mode == kLstm) {
      // mkldnn_rnn_layer takes biases whether or not it has them.
      const auto none = has_biases ? at::Tensor() : at::empty({0}, w[0].options());
      auto [output, h, c, workspace] = at::mkldnn_rnn_layer(
          input, w[0], w[1], has_biases ? w[2] : none, has_biases ? w[3] : none, hx[0][index], hx[1][index],
          reverse, {}, kLstm, hx[0].size(2), num_layers, has_biases, bidirectional, false, train);
      return {output, {h, c}};
    }
    auto results = RnnLayer::apply(input, w[0], w[1], has_biases ? given(w[2]) : std::nullopt,
                                   has_biases ? given(w[3]) : std::nullopt, hx[0][index], mode, reverse);
    return {results[0], {results[1]}};
  }

  // The layers in turn on `input` (`[steps, batch, features]`): the last layer's output and
  // each final state stacked over layers and directions.
  std::pair<at::Tensor, std::vector<at::Tensor>> run(at::Tensor input, at::TensorList hx) const {
    std::vector<std::vector<at::Tensor>> finals(hx.size());
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      std::vector<at::Tensor> outputs;
      for (int64_t direction = 0; direction < directions(); ++direction) {
        const int64_t index = layer * directions() + direction;
        const auto w = params.slice(index * per_direction(), per_direction());
        auto [output, states] = this->layer(input, w, hx, index, direction == 1);
        outputs.push_back(std::move(output));
        for (size_t i = 0; i < states.size(); ++i) finals[i].push_back(std::move(states[i]));
      }
      input = outputs.size() == 1 ? outputs[0] : at::cat(outputs, -1);
      if (dropout != 0 && train && layer < num_layers - 1) input = at::dropout(input, dropout, train);
    }
    std::vector<at::Tensor> stacked;
    for (const auto& states : finals) stacked.push_back(at::stack(states, 0));
    return {input, stacked};
  }

  std::pair<at::Tensor, std::vector<at::Tensor>> run(const at::Tensor& input, at::TensorList hx,
                                                     bool batch_first) const {
    auto [output, states] = run(batch_first ? input.transpose(0, 1) : input, hx);
    return {batch_first ? output.transpose(0, 1) : output, states};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm(const at::Tensor& input, at::TensorList hx,
                                                    at::TensorList params, bool has_biases, int64_t num_layers,
                                                    double dropout, bool train, bool bidirectional,
                                                    bool batch_first) {
  const Stack stack{kLstm, params, has_biases, num_layers, dropout, train, bidirectional};
  if (hx.size() != 2 || hx[0].sizes() != hx[1].sizes() || !stack.runs_by_layer(input, hx)) {
    return at::compositeimplicitautograd::lstm(input, hx, params, has_biases, num_layers, dropout, train,
                                               bidirectional, batch_first);
  }
  auto [output, states] = stack.run(input, hx, batch_first);
  return {output, states[0], states[1]};
}

template <Mode M>
std::tuple<at::Tensor, at::Tensor> rnn(const at::Tensor& input, const at::Tensor& hx, at::TensorList params,
                                       bool has_biases, int64_t num_layers, double dropout, bool train,
                                       bool bidirectional, bool batch_first) {
  const Stack stack{M, params, has_biases, num_layers, dropout, train, bidirectional};
  if (!stack.runs_by_layer(input, {hx})) {
    return composite(M)(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first);
  }
  auto [output, states] = stack.run(input, {hx}, batch_first);
  return {output, states[0]};
}

}  // namespace

// Called once at import. Both keys: autograd's sees training, the backend's sees
// `torch.inference_mode`, which skips autograd's keys.
void register_recurrent() {
  static torch::Library ops(torch::Library::FRAGMENT, "torch_remote", std::nullopt, __FILE__, __LINE__);
  ops.def(
      "rnn_layer(Tensor input, Tensor w_ih, Tensor w_hh, Tensor? b_ih, Tensor? b_hh, Tensor hx, int mode, "
      "bool reverse) -> (Tensor, Tensor, Tensor)");
  ops.def(
      "rnn_layer_backward(Tensor? grad_output, Tensor? grad_hy, Tensor input, Tensor w_ih, Tensor w_hh, "
      "Tensor hx, Tensor output, Tensor workspace, int mode, bool reverse, bool has_biases) -> (Tensor, Tensor, "
      "Tensor, Tensor, Tensor, Tensor)");
  static torch::Library autograd(torch::Library::IMPL, "aten", c10::DispatchKey::AutogradPrivateUse1, __FILE__,
                                 __LINE__);
  static torch::Library backend(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
  for (auto* aten : {&autograd, &backend}) {
    aten->impl("lstm.input", TORCH_FN(lstm));
    aten->impl("gru.input", TORCH_FN(rnn<kGru>));
    aten->impl("rnn_tanh.input", TORCH_FN(rnn<kRnnTanh>));
    aten->impl("rnn_relu.input", TORCH_FN(rnn<kRnnRelu>));
  }
}

}  // namespace torch_remote
