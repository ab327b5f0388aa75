"""`torch.remote`: the device module, in the manner of `torch.cuda`."""

import os

import pytest
import torch
import torch_remote  # noqa: F401


def test_device_module_answers():
    assert torch.remote.is_available()
    assert torch.remote.device_count() == 1
    assert torch.remote.current_device() == 0
    torch.remote.set_device(0)
    torch.remote.synchronize()


def proc_field(path: str, key: str) -> str:
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    raise KeyError(key)


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads /proc")
def test_device_properties_come_from_the_host():
    # The embedded host runs on this machine's CPU, so what it reports is in /proc here.
    props = torch.remote.get_device_properties(0)
    assert props.host_device == "cpu"
    assert props.name == proc_field("/proc/cpuinfo", "model name")
    assert props.name == torch.remote.get_device_name("remote:0")
    assert props.total_memory == int(proc_field("/proc/meminfo", "MemTotal").split()[0]) * 1024
    assert (props.major, props.minor) == (0, 0) == torch.remote.get_device_capability()


def test_missing_device_is_an_error():
    with pytest.raises(RuntimeError, match="remote:3 does not exist"):
        torch.remote.set_device(3)


def test_tensor_methods_name_the_device():
    t = torch.ones(2).remote()
    assert t.is_remote and t.device == torch.device("remote", 0)


def test_stats_count_round_trips():
    before = torch.remote.stats()
    x = torch.ones(64, device="remote")
    for _ in range(20):
        x = x * 1.5 + 1
    x.cpu()
    after = torch.remote.stats()
    assert after["round_trips"] - before["round_trips"] == 1
    assert after["ops"] - before["ops"] >= 40
    assert after["bytes_down"] - before["bytes_down"] == 64 * 4


def test_generators_and_storage_resize():
    generator = torch.Generator(device="remote")
    generator.manual_seed(5)
    assert generator.initial_seed() == 5
    assert torch.remote.current_device() == 0
    t = torch.arange(4.0).to("remote")
    storage = t.untyped_storage()
    storage.resize_(32)
    assert storage.nbytes() == 32
    torch.testing.assert_close(t.cpu(), torch.arange(4.0))
