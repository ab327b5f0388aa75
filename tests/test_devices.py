"""Several remote devices: each `remote:i` is its own host; ops run where their tensors
are, copies between devices pass through the client, and mixing devices in one op is an
error that names the op, the shape and both devices."""

import concurrent.futures
import gc

import pytest
import torch
import torch_remote

GEN = torch.Generator().manual_seed(3)


@pytest.fixture
def two_devices():
    """`remote:0` and `remote:1`, two embedded hosts; afterwards the default again."""
    endpoints = torch_remote.connect(provider="local", devices=2)
    assert len(endpoints) == 2
    try:
        yield
    finally:
        torch.remote.set_device(0)
        torch_remote.connect()


def test_each_device_computes_what_the_cpu_does(two_devices):
    assert torch.remote.device_count() == 2
    a = torch.randn(5, 4, generator=GEN)
    b = torch.randn(4, 3, generator=GEN)
    on1 = (a.to("remote:1") @ b.to("remote:1")).relu().sum(0)
    on0 = (a.to("remote:0") * 2).mean()
    assert on1.device == torch.device("remote", 1)
    assert on0.device == torch.device("remote", 0)
    torch.testing.assert_close(on1.cpu(), (a @ b).relu().sum(0))
    torch.testing.assert_close(on0.cpu(), (a * 2).mean())
    # CPU scalars and CPU indices go to the op's device.
    x = a.to("remote:1")
    torch.testing.assert_close((x + torch.tensor(2.0)).cpu(), a + 2.0)
    torch.testing.assert_close(x[torch.tensor([0, 3])].cpu(), a[torch.tensor([0, 3])])


def test_mixing_devices_names_the_op_shape_and_devices(two_devices):
    x = torch.ones(3, 3, device="remote:0")
    y = torch.ones(3, 3, device="remote:1")
    with pytest.raises(
        RuntimeError,
        match=r"add\.Tensor: Expected all tensors to be on the same device, but found at least "
        r"two devices, remote:0 and remote:1! \(a tensor of shape \[3, 3\] on remote:1",
    ):
        x + y
    torch.testing.assert_close(x.cpu(), torch.ones(3, 3))  # nothing lost
    torch.testing.assert_close(y.cpu(), torch.ones(3, 3))


def test_copies_between_devices(two_devices):
    a = torch.randn(4, 6, generator=GEN)
    x = a.to("remote:0")
    y = x.to("remote:1")
    assert y.device == torch.device("remote", 1)
    torch.testing.assert_close(y.cpu(), a)
    # Into a strided view on the other device, from a transposed source.
    z = torch.zeros(8, 4, device="remote:1")
    z[::2].copy_(x[:, :4].t())
    expected = torch.zeros(8, 4)
    expected[::2] = a[:, :4].t()
    torch.testing.assert_close(z.cpu(), expected)
    # With a dtype change on the way.
    torch.testing.assert_close(x.to("remote:1", torch.float64).cpu(), a.double())


def test_storages_live_on_their_own_host(two_devices):
    gc.collect()
    before = [torch.remote.memory_allocated(i) for i in range(2)]
    t = torch.empty(1 << 18, device="remote:1")
    after = [torch.remote.memory_allocated(i) for i in range(2)]
    assert after[0] == before[0]
    assert after[1] - before[1] == 4 << 18
    del t
    gc.collect()
    torch.remote.synchronize(1)
    assert torch.remote.memory_allocated(1) == before[1]


def test_current_device_and_seeds(two_devices):
    with torch.remote.device(1):
        assert torch.remote.current_device() == 1
        assert torch.ones(2, device="remote").device == torch.device("remote", 1)
    assert torch.remote.current_device() == 0
    torch.remote.set_device("remote:1")
    assert torch.zeros(1, device="remote").device.index == 1
    torch.remote.set_device(0)
    with pytest.raises(RuntimeError, match="remote:2 does not exist \\(2 remote devices\\)"):
        torch.remote.set_device(2)
    torch.manual_seed(7)  # every device, as torch.cuda does
    first = [torch.randn(6, device=f"remote:{i}").cpu() for i in range(2)]
    torch.testing.assert_close(first[0], first[1])
    torch.remote.manual_seed(7)  # the current device only
    again = [torch.randn(6, device=f"remote:{i}").cpu() for i in range(2)]
    torch.testing.assert_close(again[0], first[0])
    assert not torch.equal(again[1], first[1])


def test_the_current_device_is_each_threads_own_as_cudas(two_devices):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(torch.remote.set_device, 1).result()
        assert pool.submit(torch.remote.current_device).result() == 1
        assert torch.remote.current_device() == 0
        assert pool.submit(lambda: torch.ones(1, device="remote").device.index).result() == 1
    # A backward on remote:1 from another thread runs on autograd's thread for remote:1.
    x = torch.ones(3, device="remote:1", requires_grad=True)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: (x * 2).sum().backward()).result()
    torch.testing.assert_close(x.grad.cpu(), torch.full((3,), 2.0))
    assert torch.zeros(1, device="remote").device == torch.device("remote", 0)


def test_training_on_the_second_device_matches_cpu(two_devices):
    torch.manual_seed(0)
    cpu = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    remote = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    remote.load_state_dict(cpu.state_dict())
    remote.to("remote:1")
    data, target = torch.randn(16, 6, generator=GEN), torch.randn(16, 2, generator=GEN)
    opts = [torch.optim.Adam(m.parameters(), lr=0.01) for m in (cpu, remote)]
    before = torch.remote.stats()["round_trips"]
    for _ in range(5):
        for model, opt, dev in ((cpu, opts[0], "cpu"), (remote, opts[1], "remote:1")):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(data.to(dev)), target.to(dev))
            loss.backward()
            opt.step()
    assert torch.remote.stats()["round_trips"] == before  # nothing read yet
    for p, q in zip(cpu.parameters(), remote.parameters(), strict=True):
        assert q.device == torch.device("remote", 1)
        torch.testing.assert_close(q.cpu(), p, rtol=1e-4, atol=1e-5)


def test_a_remote_number_fills_a_cpu_tensor_as_a_cuda_one_does():
    # CUDA's kernels read a 0-dim value on another device; the CPU tensor is written.
    value = torch.tensor(3.0, device="remote")
    filled = torch.zeros(3).fill_(value)
    indexed = torch.zeros(3).index_fill_(0, torch.tensor([1]), value)
    put, masked = torch.zeros(3), torch.zeros(3)
    put[torch.tensor([1])] = value
    masked[torch.tensor([True, False, True])] = value
    param = torch.nn.Parameter(torch.zeros(2))
    torch.nn.init.constant_(param, value)
    assert filled.tolist() == [3.0, 3.0, 3.0]
    assert indexed.tolist() == put.tolist() == [0.0, 3.0, 0.0]
    assert masked.tolist() == [3.0, 0.0, 3.0]
    assert param.device.type == "cpu" and param.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="same device"):
        torch.zeros(3).add_(value)
