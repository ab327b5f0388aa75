"""`nn.LSTM`, `nn.GRU` and `nn.RNN` on remote run one op per layer and direction
(`mkldnn_rnn_layer` for an LSTM, as the CPU does; remote's `rnn_layer` for the others) instead
of a dozen ops per step: values and gradients (also twice differentiated) equal the CPU's in
every configuration, the cases PyTorch's per-step composite keeps (projections, packed
sequences, torch.compile's FakeTensors) still agree, and a malformed layer call is refused
naming the op and the shapes."""

import copy

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401
from conftest import FirstInputOnly
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# The CPU's own notice that it leaves projections to the per-step composite.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

MODULES = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn_tanh": nn.RNN,
    "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
}
CONFIGS = {
    "one_layer": {},
    "two_layers": {"num_layers": 2},
    "bidirectional": {"bidirectional": True},
    "deep_bidirectional_batch_first": {"num_layers": 3, "bidirectional": True, "batch_first": True},
    "unbiased": {"bias": False, "num_layers": 2},
}
FEATURES, HIDDEN, STEPS, BATCH = 5, 4, 7, 3


def pair(kind="lstm", dtype=torch.float32, **config):
    torch.manual_seed(0)
    cpu = MODULES[kind](FEATURES, HIDDEN, **config).to(dtype)
    return cpu, copy.deepcopy(cpu).to("remote")


def leaf(t, device):
    return t.detach().to(device).requires_grad_()


def run(module, x, state, device):
    """Output and final states of `module` on `device`, and the gradients of a loss using
    them all, for the input, the initial states and every parameter."""
    inputs = [leaf(x, device)] + [leaf(s, device) for s in state]
    given = None if not state else inputs[1] if len(state) == 1 else tuple(inputs[1:])
    output, final = module(inputs[0], given)
    finals = list(final) if isinstance(final, tuple) else [final]
    weights = torch.linspace(-1, 1, output.numel(), dtype=x.dtype).reshape(output.shape)
    loss = (output * weights.to(device)).sum() + sum((f * f).sum() for f in finals)
    loss.backward()
    grads = [t.grad for t in inputs] + [p.grad for p in module.parameters()]
    return [output, *finals], grads


def assert_all_close(got, expected):
    for have, want in zip(got, expected, strict=True):
        assert have.shape == want.shape and have.stride() == want.stride()
        torch.testing.assert_close(have.cpu(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
@pytest.mark.parametrize("kind", list(MODULES))
def test_values_and_gradients_equal_cpu(kind, config, dtype, with_state):
    cpu, remote = pair(kind, dtype, **config)
    layers = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    shape = (BATCH, STEPS, FEATURES) if config.get("batch_first") else (STEPS, BATCH, FEATURES)
    x = torch.randn(shape, dtype=dtype)
    states = 2 if kind == "lstm" else 1
    state = [torch.randn(layers, BATCH, HIDDEN, dtype=dtype) for _ in range(states)]
    expected, expected_grads = run(cpu, x, state if with_state else [], "cpu")
    got, got_grads = run(remote, x, state if with_state else [], "remote")
    assert_all_close(got + got_grads, expected + expected_grads)


def test_projected_lstm_equals_cpu():
    cpu, remote = pair(num_layers=2, proj_size=3)
    x = torch.randn(STEPS, BATCH, FEATURES)
    state = [torch.randn(2, BATCH, 3), torch.randn(2, BATCH, HIDDEN)]
    expected, expected_grads = run(cpu, x, state, "cpu")
    got, got_grads = run(remote, x, state, "remote")
    assert_all_close(got + got_grads, expected + expected_grads)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unbatched_and_packed_inputs_equal_cpu(kind):
    cpu, remote = pair(kind, num_layers=2, bidirectional=True)
    x = torch.randn(STEPS, FEATURES)
    torch.testing.assert_close(remote(x.to("remote"))[0].cpu(), cpu(x)[0])
    padded = torch.randn(STEPS, BATCH, FEATURES)
    lengths = torch.tensor([7, 5, 2])
    expected = cpu(pack_padded_sequence(padded, lengths))[0].data
    got = remote(pack_padded_sequence(padded.to("remote"), lengths))[0].data
    torch.testing.assert_close(got.cpu(), expected)


@pytest.mark.parametrize("kind", list(MODULES))
def test_a_layer_is_one_op_whatever_the_sequence_length(kind):
    _, remote = pair(kind, num_layers=2)
    params = list(remote.parameters())

    def ops_for(steps):
        x = torch.randn(steps, BATCH, FEATURES, device="remote")
        before = torch.remote.stats()["ops"]
        torch.autograd.grad(remote(x)[0].sum(), params)
        return torch.remote.stats()["ops"] - before

    assert ops_for(4) == ops_for(40) < 40


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_dropout_falls_between_layers_as_documented(kind):
    """`dropout=p` drops the outputs of every layer but the last: the same as three one-layer
    modules with `F.dropout` between them, drawing the same remote random numbers."""
    _, remote = pair(kind, num_layers=3, dropout=0.5)
    x = torch.randn(STEPS, BATCH, FEATURES, device="remote")
    params = list(remote.parameters())
    zeros = torch.zeros(1, BATCH, HIDDEN, device="remote")
    layer = {"lstm": lambda *a: torch.lstm(a[0], [zeros] * 2, *a[1:]), "gru": torch.gru}[kind]
    torch.manual_seed(7)
    expected = remote(x)[0]
    torch.manual_seed(7)
    hidden = x
    for i in range(3):
        weights = params[4 * i : 4 * i + 4]
        args = (weights, True, 1, 0.0, True, False, False)
        hidden = layer(hidden, *args) if kind == "lstm" else layer(hidden, zeros, *args)
        hidden = hidden[0]
        if i < 2:
            hidden = F.dropout(hidden, 0.5)
    torch.testing.assert_close(expected.cpu(), hidden.cpu())
    grads = [torch.autograd.grad(y.sum(), params) for y in (expected, hidden)]
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got.cpu(), want.cpu())


@pytest.mark.parametrize("kind", list(MODULES))
def test_double_backward_and_inference_mode_equal_cpu(kind):
    results = []
    modules = pair(kind, num_layers=2, bidirectional=True)
    for module, device in zip(modules, ("cpu", "remote"), strict=True):
        x = leaf(torch.linspace(-2, 2, STEPS * BATCH * FEATURES).reshape(STEPS, BATCH, -1), device)
        (grad_x,) = torch.autograd.grad(module(x)[0].pow(2).sum(), x, create_graph=True)
        grad_x.pow(2).sum().backward()
        with torch.inference_mode():
            inferred = module(x)[0]
        results.append([grad_x, inferred] + [p.grad for p in module.parameters()])
    for want, have in zip(*results, strict=True):
        torch.testing.assert_close(have.cpu(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_training_equals_cpu(kind):
    cpu, remote = pair(kind, num_layers=2)
    compiled = torch.compile(remote, backend="aot_eager")
    x = torch.randn(STEPS, BATCH, FEATURES)
    for module, device in ((cpu, "cpu"), (compiled, "remote")):
        module(x.to(device))[0].pow(2).sum().backward()
    assert_all_close([p.grad for p in remote.parameters()], [p.grad for p in cpu.parameters()])


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
    with pytest.raises(RuntimeError, match=r"mkldnn_rnn_layer: expected w_hh of shape \[16, 4\]"):
        layer(*layer_args(weight1=torch.randn(16, 3, device="remote")))
    with pytest.raises(RuntimeError, match=r"expected cx of shape \[3, 4\].*got \[2, 4\]"):
        layer(*layer_args(cx_=torch.randn(2, HIDDEN, device="remote")))
    with pytest.raises(NotImplementedError, match="LSTM layers .mode 2. only, not mode 3"):
        layer(*layer_args(mode=3))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        layer(*layer_args(hx_=torch.randn(BATCH, HIDDEN, dtype=torch.float64, device="remote")))
    output = layer(*layer_args())[0]
    assert output.shape == (STEPS, BATCH, HIDDEN) and output.isfinite().all()


def test_rnn_layer_op_refuses_malformed_calls():
    r = lambda *shape: torch.randn(*shape, device="remote")  # noqa: E731
    x, w_ih, w_hh, b, hx = r(STEPS, BATCH, FEATURES), r(12, FEATURES), r(12, HIDDEN), r(12), r(3, 4)
    layer = torch.ops.torch_remote.rnn_layer
    with pytest.raises(RuntimeError, match=r"rnn_layer: expected w_hh of shape \[12, 4\]"):
        layer(x, w_ih, r(12, 5), b, b, hx, 3, False)
    with pytest.raises(RuntimeError, match=r"expected hx of shape \[3, 4\].*got \[2, 4\]"):
        layer(x, w_ih, w_hh, b, b, r(2, 4), 3, False)
    with pytest.raises(RuntimeError, match="b_ih and b_hh must both be given or both be None"):
        layer(x, w_ih, w_hh, b, None, hx, 3, False)
    with pytest.raises(ValueError, match="expected mode 0 .RNN_RELU., 1 .RNN_TANH. or 3 .GRU."):
        layer(x, w_ih, w_hh, b, b, hx, 2, False)
    output, hy, workspace = layer(x, w_ih, w_hh, b, b, hx, 3, True)
    assert workspace.shape == (STEPS, BATCH, 4 * HIDDEN)
    torch.testing.assert_close(hy.cpu(), output[0].cpu())


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu"])
def test_forward_mode_ad_runs_the_per_step_ops_and_equals_cpu(kind):
    """Dual inputs take PyTorch's per-step composite (the layer op has no forward derivative);
    RNN cells have one, as on the CPU. GRU and LSTM reach the fused cells a GPU's composite
    uses, which have none on any device, and say so."""
    import torch.autograd.forward_ad as fwAD

    def run(device):
        torch.manual_seed(0)
        m = MODULES[kind](3, 4, num_layers=2, bidirectional=True).double().to(device)
        x = torch.randn(5, 2, 3, dtype=torch.float64).to(device)
        with fwAD.dual_level():
            primal, tangent = fwAD.unpack_dual(m(fwAD.make_dual(x, torch.ones_like(x)))[0])
            return primal.cpu(), tangent.cpu()

    for r, c in zip(run("remote"), run("cpu"), strict=True):
        torch.testing.assert_close(r, c)


@pytest.mark.parametrize("kind", ["GRU", "RNN", "LSTM"])
def test_a_layer_given_no_gradient_gives_none_as_the_cpu(kind):
    def run(device):
        torch.manual_seed(0)
        layer = getattr(nn, kind)(4, 5).to(device)
        x = torch.randn(3, 2, 4, device=device, requires_grad=True)
        other = torch.zeros(3, 2, 5, device=device, requires_grad=True)
        FirstInputOnly.apply(other, layer(x)[0]).sum().backward()
        return x.grad, layer.weight_ih_l0.grad, other.grad

    (x_grad, w_grad, other_grad), cpu = run("remote"), run("cpu")
    assert x_grad is None and w_grad is None
    assert cpu[0] is None and cpu[1] is None
    torch.testing.assert_close(other_grad.cpu(), cpu[2])
