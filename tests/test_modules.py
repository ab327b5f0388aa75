"""Real modules train 20 steps on `remote` with the CPU's losses and final parameters.

No parameter has a gradient that is zero in exact arithmetic (a bias right before batch norm,
an attention key bias): Adam would scale rounding noise in it up to full steps, on any two
devices alike."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
import torch_remote  # noqa: F401
from conftest import FirstInputOnly
from torch import nn

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
}


class CausalEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.layer = nn.TransformerEncoderLayer(
            16, 2, 32, dropout=0.0, batch_first=True, bias=False
        )
        self.head = nn.Linear(16, 4)

    def forward(self, tokens):
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        hidden = self.layer(self.embed(tokens), src_mask=mask, is_causal=True)
        return self.head(hidden.mean(1))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 8, num_layers=2, batch_first=True)
        self.gru = nn.GRU(8, 6, batch_first=True, bidirectional=True)
        self.head = nn.Linear(12, 4)

    def forward(self, tokens):
        hidden, _ = self.lstm(self.embed(tokens))
        hidden, last = self.gru(hidden)
        return self.head(hidden[:, -1] + last.transpose(0, 1).flatten(1))


class TextClassifier(nn.Module):
    """The bag-of-embeddings classifier of PyTorch's text classification tutorial."""

    def __init__(self):
        super().__init__()
        self.bag = nn.EmbeddingBag(20, 8, mode="mean")
        self.head = nn.Linear(8, 4)

    def forward(self, tokens):
        offsets = torch.arange(0, tokens.numel(), tokens.shape[1], device=tokens.device)
        return self.head(self.bag(tokens.flatten(), offsets))


def cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


def mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 4))


def batch(name, generator):
    target = torch.randint(0, 4, (6,), generator=generator)
    if name == "cnn":
        return torch.randn(6, 3, 8, 8, generator=generator), target
    if name in ("encoder", "recurrent", "bag"):
        return torch.randint(0, 20, (6, 5), generator=generator), target
    return torch.randn(6, 12, generator=generator), target


MODELS = {
    "mlp": mlp,
    "cnn": cnn,
    "encoder": CausalEncoder,
    "recurrent": Recurrent,
    "bag": TextClassifier,
}


def train(model, data, target, optimizer_factory, steps=20):
    optimizer = optimizer_factory(model.parameters())
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("model_name", list(MODELS))
def test_module_trains_like_cpu(model_name, optimizer):
    torch.manual_seed(0)
    cpu_model = MODELS[model_name]()
    remote_model = copy.deepcopy(cpu_model).to("remote")
    data, target = batch(model_name, torch.Generator().manual_seed(1))

    cpu_losses = train(cpu_model, data, target, OPTIMIZERS[optimizer])
    remote_losses = train(
        remote_model, data.to("remote"), target.to("remote"), OPTIMIZERS[optimizer]
    )

    torch.testing.assert_close(remote_losses, cpu_losses, rtol=1e-4, atol=0)
    assert cpu_losses[-1] < cpu_losses[0]
    for cpu_p, remote_p in zip(cpu_model.parameters(), remote_model.parameters(), strict=True):
        torch.testing.assert_close(remote_p.cpu(), cpu_p, rtol=1e-4, atol=1e-5)
    for cpu_b, remote_b in zip(cpu_model.buffers(), remote_model.buffers(), strict=True):
        torch.testing.assert_close(remote_b.cpu(), cpu_b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_inference_fast_path_equals_cpu(norm_first, activation):
    """In eval mode without grad, PyTorch runs the layer as one `_transformer_encoder_layer_fwd`
    and its attention as `_native_multi_head_attention`, on `remote` as on CUDA."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation
    ).eval()
    remote_layer = copy.deepcopy(layer).to("remote")
    src = torch.randn(3, 7, 8)
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[0, 5:] = True
    causal = nn.Transformer.generate_square_subsequent_mask(7)
    with torch.no_grad():
        for kwargs in ({}, {"src_mask": causal}, {"src_key_padding_mask": padding}):
            expected = layer(src, **kwargs)
            remote_kwargs = {k: v.to("remote") for k, v in kwargs.items()}
            got = remote_layer(src.to("remote"), **remote_kwargs)
            torch.testing.assert_close(got.cpu(), expected)


# The CPU's nested tensors warn that they are a prototype.
@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
@pytest.mark.parametrize("final_norm", [False, True])
def test_encoder_inference_with_padding_equals_cpu(final_norm):
    """With a padding mask in eval mode PyTorch packs the batch into a nested tensor and
    gives zeros (before the final norm) at the padded positions; remote gives the same."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8) if final_norm else None)
    encoder.eval()
    remote_encoder = copy.deepcopy(encoder).to("remote")
    src = torch.randn(3, 5, 8)
    left = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] + [True] * 4])
    gapped = torch.tensor([[False] * 5, [True] + [False] * 4, [False] * 5])
    additive = torch.zeros(3, 5).masked_fill(left, float("-inf"))
    with torch.no_grad():
        for padding in (left, gapped, additive, None):
            expected = encoder(src, src_key_padding_mask=padding)
            remote_padding = None if padding is None else padding.to("remote")
            got = remote_encoder(src.to("remote"), src_key_padding_mask=remote_padding)
            torch.testing.assert_close(got.cpu(), expected)
    assert remote_encoder.use_nested_tensor and (remote_encoder.norm is None) != final_norm


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
def test_encoder_inference_never_reads_the_padded_positions():
    """A NaN where a sequence is padded stays out of its tokens, as packing drops it."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2).eval()
    remote_encoder = copy.deepcopy(encoder).to("remote")
    src = torch.randn(2, 4, 8)
    src[1, 2:] = float("nan")
    padding = torch.tensor([[False] * 4, [False, False, True, True]])
    with torch.no_grad():
        expected = encoder(src, src_key_padding_mask=padding)
        got = remote_encoder(src.to("remote"), src_key_padding_mask=padding.to("remote"))
    assert not expected.isnan().any()
    torch.testing.assert_close(got.cpu(), expected)


def test_encoder_warns_of_mismatched_masks_once():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
    mask, padding = torch.zeros(4, 4), torch.zeros(2, 4, dtype=torch.bool)
    for device in ("cpu", "remote"):
        encoder.to(device)
        with pytest.warns(UserWarning) as caught:
            encoder(torch.randn(2, 4, 8, device=device), mask.to(device), padding.to(device))
        assert [str(w.message) for w in caught] == [
            "Support for mismatched src_key_padding_mask and mask is deprecated. Use same "
            "type for both instead."
        ]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_torch_remote_leaves_transformers_scriptable():
    """The remote path wraps `__call__`, so `forward` is still PyTorch's, which TorchScript
    compiles."""
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
    scripted = torch.jit.script(encoder.eval())
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(scripted(x), encoder(x))


def test_multihead_attention_inference_fast_path_equals_cpu():
    torch.manual_seed(0)
    attention = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    remote_attention = copy.deepcopy(attention).to("remote")
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        for kwargs in ({}, {"average_attn_weights": False}, {"need_weights": False}):
            out, weights = attention(x, x, x, **kwargs)
            remote_x = x.to("remote")
            remote_out, remote_weights = remote_attention(remote_x, remote_x, remote_x, **kwargs)
            torch.testing.assert_close(remote_out.cpu(), out)
            if weights is None:
                assert remote_weights is None
            else:
                torch.testing.assert_close(remote_weights.cpu(), weights)


ATTENTION_LAYOUTS = {
    "contiguous": lambda: torch.randn(2, 4, 6, 8),
    "heads_transposed": lambda: torch.randn(2, 6, 4, 8).transpose(1, 2),
    "permuted": lambda: torch.randn(6, 2, 4, 8).permute(1, 2, 0, 3),
    "sliced": lambda: torch.randn(2, 6, 4, 16)[..., :8].transpose(1, 2),
    "last_dim_strided": lambda: torch.randn(2, 4, 8, 6).transpose(2, 3),
    "three_dims": lambda: torch.randn(3, 6, 8).transpose(0, 1),
}


@pytest.mark.parametrize("make", list(ATTENTION_LAYOUTS.values()), ids=list(ATTENTION_LAYOUTS))
@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_output_is_laid_out_as_the_cpus(make, is_causal):
    """Where the CPU runs its flash kernel, the output follows the query's layout, so that
    `y.transpose(1, 2).view(B, T, C)` works; gradients flow as through the CPU's kernel."""
    torch.manual_seed(0)
    q = make()

    def run(device):
        query = q.detach().to(device).requires_grad_()
        y = F.scaled_dot_product_attention(query, query, query, is_causal=is_causal)
        (y * weights.to(device)).sum().backward()
        return y, query.grad

    weights = torch.randn(q.shape)
    (remote, remote_grad), (cpu, cpu_grad) = run("remote"), run("cpu")
    assert remote.stride() == cpu.stride()
    assert type(remote.grad_fn) is type(cpu.grad_fn)
    # The kernel the CPU chooses runs on the host, so the values are the CPU's own.
    torch.testing.assert_close(remote.cpu(), cpu, rtol=0, atol=0)
    torch.testing.assert_close(remote_grad.cpu(), cpu_grad, rtol=0, atol=0)


ATTENTION_OPTIONS = {
    "plain": {},
    "causal_and_scaled": {"is_causal": True, "scale": 0.3},
    "float_mask": {"attn_mask": torch.randn(5, 6)},
    "bool_mask": {"attn_mask": torch.rand(2, 1, 5, 6) > 0.3},
    "grouped_query_heads": {"enable_gqa": True, "heads": 2},
    "double": {"dtype": torch.float64},
    "bfloat16": {"dtype": torch.bfloat16},
    # A float32 mask serves any query dtype; a mask of any stride, as on the CPU.
    "float_mask_bfloat16_query": {"dtype": torch.bfloat16, "attn_mask": torch.randn(5, 6)},
    "transposed_mask": {"attn_mask": torch.randn(6, 5).t()},
    "fully_masked_row": {
        "attn_mask": torch.zeros(5, 6).index_fill(0, torch.tensor([1]), -math.inf)
    },
}


@pytest.mark.parametrize("options", list(ATTENTION_OPTIONS.values()), ids=list(ATTENTION_OPTIONS))
def test_attention_is_one_op_each_way_with_the_cpus_kernel_and_values(options):
    options = dict(options)
    dtype, kv_heads = options.pop("dtype", torch.float32), options.pop("heads", 4)
    torch.manual_seed(0)
    q = torch.randn(2, 4, 5, 8, dtype=dtype)
    k, v = torch.randn(2, 2, kv_heads, 6, 8, dtype=dtype).unbind(0)
    grad = torch.randn(2, 4, 5, 8, dtype=dtype)

    def run(device):
        inputs = [t.detach().to(device).requires_grad_() for t in (q, k, v)]
        kwargs = {n: o.to(device) if torch.is_tensor(o) else o for n, o in options.items()}
        torch.remote.synchronize()
        ops = torch.remote.stats()["ops"]
        y = F.scaled_dot_product_attention(*inputs, **kwargs)
        forward_ops = torch.remote.stats()["ops"] - ops
        y.backward(grad.to(device))
        return forward_ops, y, *(t.grad for t in inputs)

    cpu, remote = run("cpu"), run("remote")
    on_remote = {n: o.to("remote") if torch.is_tensor(o) else o for n, o in options.items()}
    choice = torch._fused_sdp_choice(q.to("remote"), k.to("remote"), v.to("remote"), **on_remote)
    assert choice == torch._fused_sdp_choice(q, k, v, **options)
    # A boolean mask becomes a float one first (a few ops), as on the CPU.
    mask = options.get("attn_mask")
    if mask is None or mask.dtype != torch.bool:
        assert remote[0] == 1
    assert type(remote[1].grad_fn) is type(cpu[1].grad_fn)
    for got, want in zip(remote[1:], cpu[1:], strict=True):
        assert got.stride() == want.stride()
        torch.testing.assert_close(got.cpu(), want, rtol=0, atol=0)


@pytest.mark.parametrize("expanded", [(2, 3, 1, 8), (2, 1, 4, 8)])
def test_attention_output_of_an_expanded_query_is_laid_out_as_the_cpus(expanded):
    def run(device):
        torch.manual_seed(0)
        q = torch.randn(*expanded).to(device).expand(2, 3, 4, 8)
        k = torch.randn(2, 3, 5, 8).to(device)
        return F.scaled_dot_product_attention(q, k, k)

    remote, cpu = run("remote"), run("cpu")
    assert remote.stride() == cpu.stride()
    torch.testing.assert_close(remote.cpu(), cpu, rtol=0, atol=0)


def test_attention_given_no_gradient_gives_none_as_the_cpu():
    def run(device):
        torch.manual_seed(0)
        q, k, v, w = (torch.randn(1, 2, 3, 8, device=device, requires_grad=True) for _ in range(4))
        FirstInputOnly.apply(w, F.scaled_dot_product_attention(q, k, v)).sum().backward()
        return q.grad, w.grad

    (q_grad, w_grad), (cpu_q_grad, cpu_w_grad) = run("remote"), run("cpu")
    assert q_grad is None and cpu_q_grad is None
    torch.testing.assert_close(w_grad.cpu(), cpu_w_grad)
    inputs = [
        torch.randn(1, 2, 3, 4, dtype=torch.float64, device="remote", requires_grad=True)
        for _ in range(3)
    ]
    assert torch.autograd.gradcheck(F.scaled_dot_product_attention, inputs)


def test_fused_attention_without_positions_leaves_the_host_running():
    # The CPU kernel divides by both lengths: called directly without keys, it dies of
    # SIGFPE. Remote refuses that, and has nothing to compute without queries.
    fused = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    q, k = torch.randn(2, 3, 0, 4, device="remote"), torch.randn(2, 3, 5, 4, device="remote")
    out, lse = fused(q, k, k)
    assert (out.shape, lse.shape) == ((2, 3, 0, 4), (2, 3, 0))
    with pytest.raises(RuntimeError, match="no positions"):
        fused(k, q, q)
    torch.testing.assert_close(torch.ones(3, device="remote").sum().cpu(), torch.tensor(3.0))


def test_attention_with_every_backend_off_is_refused_like_the_cpu():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def call(device):
        q = torch.randn(2, 4, 6, 8, device=device)
        with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
            F.scaled_dot_product_attention(q, q, q)

    with pytest.raises(RuntimeError) as cpu:
        call("cpu")
    with pytest.raises(RuntimeError) as remote:
        call("remote")
    assert str(remote.value) == str(cpu.value)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1])
@pytest.mark.parametrize("include_last_offset", [False, True])
def test_embedding_bag_values_and_gradients_equal_cpu(mode, padding_idx, include_last_offset):
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(10, 4, generator=generator)
    indices, offsets = torch.tensor([1, 2, 3, 1, 5, 0]), torch.tensor([0, 2, 2, 6])
    per_sample = torch.rand(6, generator=generator) if mode == "sum" else None

    def run(device):
        w = weight.to(device).requires_grad_()
        p = per_sample.to(device).requires_grad_() if per_sample is not None else None
        out = F.embedding_bag(
            indices.to(device),
            w,
            offsets.to(device),
            mode=mode,
            per_sample_weights=p,
            include_last_offset=include_last_offset,
            padding_idx=padding_idx,
        )
        (out * torch.arange(out.numel(), device=device).view_as(out)).sum().backward()
        return [out, w.grad] + ([p.grad] if p is not None else [])

    for remote, cpu in zip(run("remote"), run("cpu"), strict=True):
        torch.testing.assert_close(remote.cpu(), cpu)


class TiedLanguageModel(nn.Module):
    """GPT-2's weight tying: the output layer is the token embedding."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 20, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.norm(self.embed(tokens)))


def test_tied_weights_stay_tied_on_remote_and_back():
    torch.manual_seed(0)
    model = TiedLanguageModel()
    model.to("remote")
    assert model.head.weight is model.embed.weight
    assert len(list(model.parameters())) == 3
    model.to("cpu", torch.float64)
    assert model.head.weight is model.embed.weight and model.embed.weight.device.type == "cpu"


def _ties(device: str, convert) -> tuple[bool, bool]:
    """Whether a tied weight and a shared buffer are still shared after `convert`."""
    with torch.device("meta" if convert is None else "cpu"):
        model = TiedLanguageModel()
    model.register_buffer("shared", torch.zeros(3))
    model.norm.register_buffer("shared", model.shared)
    if convert is None:
        model = model.to_empty(device=device)
    else:
        convert(model.to(device))
    return model.head.weight is model.embed.weight, model.norm.shared is model.shared


@pytest.mark.parametrize(
    "convert",
    [lambda m: m.double(), lambda m: m.half().float(), None],
    ids=["double", "half_then_float", "to_empty_from_meta"],
)
def test_ties_after_a_conversion_are_the_cpus(convert):
    """`_apply` converts a shared buffer once per module that holds it, so it ends up as
    separate copies; a tied weight stays tied, except when made from meta (`to_empty`)."""
    assert _ties("remote", convert) == _ties("cpu", convert)


def test_overwriting_params_on_conversion_unties_weights_as_on_cpu():
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        ties = {device: _ties(device, lambda m: m.double()) for device in ("cpu", "remote")}
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(False)
    assert ties["remote"] == ties["cpu"] == (False, False)


def test_tied_language_model_trains_like_cpu():
    torch.manual_seed(0)
    cpu_model = TiedLanguageModel()
    remote_model = copy.deepcopy(cpu_model).to("remote")
    tokens = torch.randint(0, 20, (4, 6), generator=torch.Generator().manual_seed(1))
    results = []
    for model, device in ((cpu_model, "cpu"), (remote_model, "remote")):
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
        x, y = tokens[:, :-1].to(device), tokens[:, 1:].to(device)
        losses = []
        for _ in range(5):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        results.append((losses, model.embed.weight.detach().cpu()))
    (cpu_losses, cpu_weight), (remote_losses, remote_weight) = results
    torch.testing.assert_close(remote_losses, cpu_losses)
    torch.testing.assert_close(remote_weight, cpu_weight)


def test_inference_mode_runs_a_model_like_cpu():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 5)
    ).eval()
    remote = copy.deepcopy(model).to("remote")
    x = torch.randn(2, 3, 8, 8)
    with torch.inference_mode():
        expected, got = model(x), remote(x.to("remote"))
    assert got.is_inference()
    torch.testing.assert_close(got.cpu(), expected)


def test_inference_mode_views_of_normal_tensors_stay_normal_as_on_cpu():
    for device in ("cpu", "remote"):
        x = torch.randn(2, 3).to(device)
        with torch.inference_mode():
            view, fresh = x.view(3, 2), x * 2
        assert (view.is_inference(), fresh.is_inference()) == (False, True), device
        x.add_(1)
        assert view._version == x._version == 1, device
        torch.testing.assert_close(view.cpu(), x.view(3, 2).cpu())


def test_to_remote_keeps_the_parameter_objects_as_cuda_does():
    """An optimizer built before `model.to(device)` still steps the moved weights."""
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    results = []
    for device in ["cpu", "remote"]:
        torch.manual_seed(1)
        model = nn.Linear(3, 2)
        weight = model.weight
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        model.to(device)
        assert model.weight is weight and isinstance(weight, nn.Parameter)
        assert weight.device.type == device and weight.requires_grad
        model(x.to(device)).square().sum().backward()
        optimizer.step()
        results.append([p.detach().cpu() for p in model.parameters()])
    for cpu, remote in zip(*results, strict=True):
        torch.testing.assert_close(remote, cpu)


def test_parameter_data_and_lazy_modules_move_to_remote():
    parameter = nn.Parameter(torch.ones(2))
    parameter.data = torch.full((2,), 3.0, device="remote")
    assert parameter.device.type == "remote"
    assert torch.equal(parameter.detach().cpu(), torch.full((2,), 3.0))
    lazy = nn.LazyLinear(2).to("remote")
    assert lazy(torch.randn(3, 5, device="remote")).shape == (3, 2)
    assert not torch._has_compatible_shallow_copy_type(
        torch.ones(1, device="meta"), torch.ones(1, device="remote")
    )
