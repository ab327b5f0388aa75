"""``torch.compile`` on remote: Dynamo captures the graph (its FakeTensors carry remote's
dispatch keys on meta tensors), and the graph trains as the uncompiled model does on the
CPU, with inductor's default falling back to AOTAutograd without code generation."""

import pytest
import torch
import torch_remote


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.GELU(),
        torch.nn.LayerNorm(16),
        torch.nn.Unflatten(1, (4, 2, 2)),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    )


def _train(model: torch.nn.Module, run, device: str, batches: list) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(run(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _batches(sizes: list[int]) -> list:
    torch.manual_seed(1)
    return [(torch.randn(n, 8), torch.randint(0, 3, (n,))) for n in sizes]


def _compare(compile_kwargs: dict, sizes: list[int]) -> None:
    torch._dynamo.reset()
    cpu = _model()
    want = _train(cpu, cpu, "cpu", _batches(sizes))
    remote = _model().to("remote")
    compiled = torch.compile(remote, **compile_kwargs)
    got = _train(remote, compiled, "remote", _batches(sizes))
    torch.testing.assert_close(got, want)
    for p, q in zip(cpu.state_dict().values(), remote.state_dict().values(), strict=True):
        torch.testing.assert_close(q.cpu(), p)
    cpu.eval()
    remote.eval()
    x = _batches([5])[0][0]
    torch.testing.assert_close(compiled(x.to("remote")).cpu(), cpu(x))


# Importing inductor's configuration trips this inside PyTorch itself.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_default_compile_trains_as_eager_cpu_does():
    torch_remote.compiling._warned = False
    with pytest.warns(UserWarning, match="inductor generates no kernels for the remote"):
        _compare({}, [4, 4, 4])


def test_aot_eager_and_eager_backends_train_as_eager_cpu_does():
    _compare({"backend": "aot_eager"}, [4, 4])
    _compare({"backend": "eager"}, [4, 4])


def test_dynamic_shapes_follow_the_batch():
    _compare({"backend": "aot_eager", "dynamic": True}, [4, 6, 3])


def test_compiled_attention_keeps_its_lengths_symbolic():
    graphs = []

    def count(gm, example_inputs):
        graphs.append(gm)
        return gm

    torch._dynamo.reset()
    attend = torch.compile(
        lambda q: torch.nn.functional.scaled_dot_product_attention(q, q, q),
        backend=count,
        dynamic=True,
    )
    for length in (5, 7, 9):
        q = torch.randn(2, 3, length, 8)
        torch.testing.assert_close(attend(q.to("remote")).cpu(), attend(q))
    # One graph for remote's lengths, one for the CPU's.
    assert len(graphs) == 2


# TorchScript is deprecated in PyTorch 2.13, but models saved with it still run.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("script", [False, True])
def test_torchscript_runs_a_conv_net_like_cpu(script):
    # The tracer records `_convolution`, not `convolution`: the remote device must go
    # through the same op as the CPU, or the trace holds the result as a constant.
    import copy

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.ConvTranspose2d(4, 2, 2)
    )
    x = torch.randn(2, 3, 8, 8)
    remote_net = copy.deepcopy(net).to("remote")
    if script:
        compiled = torch.jit.script(remote_net)
    else:
        compiled = torch.jit.trace(remote_net, x.to("remote"))
        kinds = {node.kind() for node in compiled.inlined_graph.nodes()}
        assert "aten::_convolution" in kinds
    torch.testing.assert_close(compiled(x.to("remote")).cpu(), net(x), rtol=1e-4, atol=1e-5)


# Importing inductor's configuration trips this inside PyTorch itself.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:torch.compile. inductor generates no kernels:UserWarning")
def test_default_compile_of_a_graph_that_only_makes_remote_tensors():
    torch._dynamo.reset()
    x = torch.randn(4, 3)
    moved = torch.compile(lambda c: (c.to("remote") * 2).sum(0))(x)
    torch.testing.assert_close(moved.cpu(), (x * 2).sum(0))
    made = torch.compile(lambda n: torch.arange(n, device="remote", dtype=torch.float32).sin())(5)
    torch.testing.assert_close(made.cpu(), torch.arange(5.0).sin())


def _channels_last_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 5),
    ).to(memory_format=torch.channels_last)


@pytest.mark.parametrize("dynamic", [False, None, True])
def test_compiled_channels_last_cnn_trains_as_eager_cpu_does(dynamic):
    """Tracing lays a remote convolution's fake output out as the guest will (channels-last
    here), so the flatten after it is not traced as a view of a contiguous tensor; with
    symbolic batch sizes too (`dynamic=None` recompiles with them when the batch changes)."""
    torch._dynamo.reset()
    cpu, remote = _channels_last_cnn(), _channels_last_cnn().to("remote")
    compiled = torch.compile(remote, backend="aot_eager", dynamic=dynamic)
    for n in (2, 3):
        x = torch.randn(n, 3, 8, 8).to(memory_format=torch.channels_last)
        want, got = cpu(x), compiled(x.to("remote"))
        want.sum().backward()
        got.sum().backward()
        torch.testing.assert_close(got.detach().cpu(), want.detach())
    torch.testing.assert_close(remote[0].weight.grad.cpu(), cpu[0].weight.grad)


@pytest.mark.parametrize(
    "conv",
    [
        lambda d: torch.conv2d(
            torch.randn(2, 3, 8, 8, device=d).to(memory_format=torch.channels_last),
            torch.randn(4, 3, 3, 3, device=d),
        ),
        lambda d: torch.conv2d(
            torch.randn(2, 3, 8, 8, device=d),
            torch.randn(4, 3, 3, 3, device=d).to(memory_format=torch.channels_last),
        ),
        lambda d: torch.nn.functional.conv_transpose2d(
            torch.randn(2, 3, 8, 8, device=d).to(memory_format=torch.channels_last),
            torch.randn(3, 2, 3, 3, device=d),
        ),
        lambda d: torch.conv3d(
            torch.randn(1, 2, 3, 4, 4, device=d).to(memory_format=torch.channels_last_3d),
            torch.randn(3, 2, 2, 2, 2, device=d),
        ),
    ],
    ids=["channels_last_input", "channels_last_weight", "transposed", "3d"],
)
def test_fake_convolutions_on_remote_take_the_real_layout(conv):
    from torch._subclasses.fake_utils import CrossRefFakeMode

    torch.manual_seed(0)
    with CrossRefFakeMode():
        conv("remote")
