"""`nn.LSTM` on remote runs one layer op per layer and direction (`mkldnn_rnn_layer`, as the
CPU does) instead of a dozen ops per step: values and gradients equal the CPU's in every
configuration, the cases PyTorch's per-step composite keeps (projections, packed sequences)
still agree, and a malformed layer call is refused naming the op and the shapes."""

import copy

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# The CPU's own notice that it leaves projections to the per-step composite.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

CONFIGS = {
    "one_layer": {},
    "two_layers": {"num_layers": 2},
    "bidirectional": {"bidirectional": True},
    "deep_bidirectional_batch_first": {"num_layers": 3, "bidirectional": True, "batch_first": True},
    "unbiased": {"bias": False, "num_layers": 2},
    "projected": {"proj_size": 3, "num_layers": 2},
}
FEATURES, HIDDEN, STEPS, BATCH = 5, 4, 7, 3


def pair(dtype=torch.float32, **config):
    torch.manual_seed(0)
    cpu = nn.LSTM(FEATURES, HIDDEN, **config).to(dtype)
    return cpu, copy.deepcopy(cpu).to("remote")


def leaf(t, device):
    return t.detach().to(device).requires_grad_()


def run(module, x, state, device):
    """Output and final states of `module` on `device`, and the gradients of a loss using
    all three, for the input, the initial state and every parameter."""
    inputs = [leaf(x, device)] + [leaf(s, device) for s in state]
    output, (hy, cy) = module(inputs[0], tuple(inputs[1:]) or None)
    weights = torch.linspace(-1, 1, output.numel(), dtype=x.dtype).reshape(output.shape)
    loss = (output * weights.to(device)).sum() + hy.sum() + (cy * cy).sum()
    loss.backward()
    grads = [t.grad for t in inputs] + [p.grad for p in module.parameters()]
    return [output, hy, cy], grads


@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
def test_lstm_values_and_gradients_equal_cpu(config, dtype, with_state):
    cpu, remote = pair(dtype, **config)
    layers = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    shape = (BATCH, STEPS, FEATURES) if config.get("batch_first") else (STEPS, BATCH, FEATURES)
    x = torch.randn(shape, dtype=dtype)
    out_size = config.get("proj_size") or HIDDEN
    state = [torch.randn(layers, BATCH, size, dtype=dtype) for size in (out_size, HIDDEN)]
    state = state if with_state else []
    expected, expected_grads = run(cpu, x, state, "cpu")
    got, got_grads = run(remote, x, state, "remote")
    for want, have in zip(expected + expected_grads, got + got_grads, strict=True):
        assert have.shape == want.shape and have.stride() == want.stride()
        torch.testing.assert_close(have.cpu(), want, rtol=1e-4, atol=1e-5)


def test_unbatched_and_packed_inputs_equal_cpu():
    cpu, remote = pair(num_layers=2, bidirectional=True)
    x = torch.randn(STEPS, FEATURES)
    torch.testing.assert_close(remote(x.to("remote"))[0].cpu(), cpu(x)[0])
    padded = torch.randn(STEPS, BATCH, FEATURES)
    lengths = torch.tensor([7, 5, 2])
    expected = cpu(pack_padded_sequence(padded, lengths))[0].data
    got = remote(pack_padded_sequence(padded.to("remote"), lengths))[0].data
    torch.testing.assert_close(got.cpu(), expected)


def test_a_layer_is_one_op_whatever_the_sequence_length():
    _, remote = pair(num_layers=2)
    params = list(remote.parameters())

    def ops_for(steps):
        x = torch.randn(steps, BATCH, FEATURES, device="remote")
        before = torch.remote.stats()["ops"]
        torch.autograd.grad(remote(x)[0].sum(), params)
        return torch.remote.stats()["ops"] - before

    assert ops_for(4) == ops_for(40) < 40


def test_dropout_falls_between_layers_as_documented():
    """`nn.LSTM(dropout=p)` drops the outputs of every layer but the last: the same as three
    one-layer LSTMs with `F.dropout` between them, drawing the same remote random numbers."""
    _, remote = pair(num_layers=3, dropout=0.5)
    x = torch.randn(STEPS, BATCH, FEATURES, device="remote")
    params = list(remote.parameters())
    zeros = [torch.zeros(1, BATCH, HIDDEN, device="remote")] * 2
    torch.manual_seed(7)
    expected = remote(x)[0]
    torch.manual_seed(7)
    hidden = x
    for layer in range(3):
        weights = params[4 * layer : 4 * layer + 4]
        hidden = torch.lstm(hidden, zeros, weights, True, 1, 0.0, True, False, False)[0]
        if layer < 2:
            hidden = F.dropout(hidden, 0.5)
    torch.testing.assert_close(expected.cpu(), hidden.cpu())
    grads = [torch.autograd.grad(y.sum(), params) for y in (expected, hidden)]
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got.cpu(), want.cpu())


def test_double_backward_and_inference_mode_equal_cpu():
    results = []
    for module, device in zip(pair(num_layers=2), ("cpu", "remote"), strict=True):
        x = leaf(torch.linspace(-2, 2, STEPS * BATCH * FEATURES).reshape(STEPS, BATCH, -1), device)
        (grad_x,) = torch.autograd.grad(module(x)[0].pow(2).sum(), x, create_graph=True)
        grad_x.pow(2).sum().backward()
        with torch.inference_mode():
            inferred = module(x)[0]
        results.append([grad_x, inferred] + [p.grad for p in module.parameters()])
    for want, have in zip(*results, strict=True):
        torch.testing.assert_close(have.cpu(), want, rtol=1e-4, atol=1e-5)


def layer_args(**changes):
    """The arguments of `mkldnn_rnn_layer` for a one-layer LSTM on remote."""
    r = lambda *shape: torch.randn(*shape, device="remote")  # noqa: E731
    args = {
        "input": r(STEPS, BATCH, FEATURES),
        "weight0": r(4 * HIDDEN, FEATURES),
        "weight1": r(4 * HIDDEN, HIDDEN),
        "weight2": r(4 * HIDDEN),
        "weight3": r(4 * HIDDEN),
        "hx_": r(BATCH, HIDDEN),
        "cx_": r(BATCH, HIDDEN),
        "reverse": False,
        "batch_sizes": [],
        "mode": 2,
        "hidden_size": HIDDEN,
        "num_layers": 1,
        "has_biases": True,
        "bidirectional": False,
        "batch_first": False,
        "train": True,
    }
    return list({**args, **changes}.values())


def test_layer_op_refuses_malformed_calls():
    layer = torch.ops.aten.mkldnn_rnn_layer
    with pytest.raises(
        RuntimeError, match=r"mkldnn_rnn_layer: expected weight_hh of shape \[16, 4\]"
    ):
        layer(*layer_args(weight1=torch.randn(16, 3, device="remote")))
    with pytest.raises(RuntimeError, match=r"expected cx of shape \[3, 4\].*got \[2, 4\]"):
        layer(*layer_args(cx_=torch.randn(2, HIDDEN, device="remote")))
    with pytest.raises(NotImplementedError, match="LSTM layers .mode 2. only, not mode 3"):
        layer(*layer_args(mode=3))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        layer(*layer_args(hx_=torch.randn(BATCH, HIDDEN, dtype=torch.float64, device="remote")))
    output = layer(*layer_args())[0]
    assert output.shape == (STEPS, BATCH, HIDDEN) and output.isfinite().all()
