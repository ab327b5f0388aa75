// `aten::lstm` on remote: one `mkldnn_rnn_layer` per layer and direction, the op PyTorch's
// CPU LSTM runs (and whose autograd formula PyTorch defines), instead of the per-step
// composite that PyTorch falls back to on other devices (a dozen ops per step and layer).
// No semantics live here: the guest checks and shapes each layer op; this file strings the
// layers together as PyTorch's composite does (directions side by side, dropout between
// layers) and leaves every other case (projections, autocast, odd states) to that composite.

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/ops/lstm_compositeimplicitautograd_dispatch.h>
#include <ATen/ops/mkldnn_rnn_layer.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

namespace torch_remote {
namespace {

// PyTorch's RNN code numbers the modes as cuDNN does.
constexpr int64_t kLstmMode = 2;

struct Lstm {
  at::TensorList params;
  bool has_biases;
  int64_t num_layers;
  double dropout;
  bool train;
  bool bidirectional;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t per_direction() const { return has_biases ? 4 : 2; }

  // The plain LSTM of `nn.LSTM` without projections, outside autocast (whose casts PyTorch
  // lists for the per-step ops).
  bool runs_by_layer(const at::Tensor& input, at::TensorList hx) const {
    return !at::autocast::is_autocast_enabled(at::kPrivateUse1) && input.dim() == 3 && input.numel() > 0 &&
           hx.size() == 2 && hx[0].dim() == 3 && hx[0].sizes() == hx[1].sizes() &&
           hx[0].size(0) == num_layers * directions() &&
           static_cast<int64_t>(params.size()) == num_layers * directions() * per_direction();
  }

  // The layers in turn on `input` (`[steps, batch, features]`): the last layer's output and
  // each layer and direction's final hidden and cell states.
  std::tuple<at::Tensor, at::Tensor, at::Tensor> run(at::Tensor input, at::TensorList hx) const {
    const int64_t hidden = hx[0].size(2);
    std::vector<at::Tensor> hy, cy;
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      std::vector<at::Tensor> outputs;
      for (int64_t direction = 0; direction < directions(); ++direction) {
        const int64_t index = layer * directions() + direction;
        const auto w = params.slice(index * per_direction(), per_direction());
        const auto none = at::empty({0}, w[0].options());
        auto [output, h, c, workspace] =
            at::mkldnn_rnn_layer(input, w[0], w[1], has_biases ? w[2] : none, has_biases ? w[3] : none,
                                 hx[0][index], hx[1][index], direction == 1, {}, kLstmMode, hidden, num_layers,
                                 has_biases, bidirectional, false, train);
        outputs.push_back(std::move(output));
        hy.push_back(std::move(h));
        cy.push_back(std::move(c));
      }
      input = outputs.size() == 1 ? outputs[0] : at::cat(outputs, -1);
      if (dropout != 0 && train && layer < num_layers - 1) input = at::dropout(input, dropout, train);
    }
    return {input, at::stack(hy, 0), at::stack(cy, 0)};
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm(const at::Tensor& input, at::TensorList hx,
                                                    at::TensorList params, bool has_biases, int64_t num_layers,
                                                    double dropout, bool train, bool bidirectional,
                                                    bool batch_first) {
  const Lstm lstm{params, has_biases, num_layers, dropout, train, bidirectional};
  if (!lstm.runs_by_layer(input, hx)) {
    return at::compositeimplicitautograd::lstm(input, hx, params, has_biases, num_layers, dropout, train,
                                               bidirectional, batch_first);
  }
  auto [output, hy, cy] = lstm.run(batch_first ? input.transpose(0, 1) : input, hx);
  return {batch_first ? output.transpose(0, 1) : output, hy, cy};
}

}  // namespace

// Called once at import. Both keys: autograd's sees training, the backend's sees
// `torch.inference_mode`, which skips autograd's keys.
void register_lstm() {
  static torch::Library autograd(torch::Library::IMPL, "aten", c10::DispatchKey::AutogradPrivateUse1, __FILE__,
                                 __LINE__);
  static torch::Library backend(torch::Library::IMPL, "aten", c10::DispatchKey::PrivateUse1, __FILE__, __LINE__);
  autograd.impl("lstm.input", TORCH_FN(lstm));
  backend.impl("lstm.input", TORCH_FN(lstm));
}

}  // namespace torch_remote
