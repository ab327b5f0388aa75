"""Routing: the smallest GPU type that fits a request, and clear errors for the rest."""

import pytest
import torch_remote
from torch_remote import gpus, providers


@pytest.mark.parametrize(
    ("memory_gb", "expected"),
    [
        (0, "T4"),
        (1, "T4"),
        (16, "T4"),
        (16.5, "L4"),
        (24, "L4"),
        (30, "A100-40GB"),
        (40, "A100-40GB"),
        (45, "L40S"),
        (60, "A100-80GB"),
        (80, "A100-80GB"),
        (81, "H200"),
        (141, "H200"),
        (150, "B200"),
        (180, "B200"),
    ],
)
def test_smallest_type_with_the_memory(memory_gb, expected):
    assert torch_remote.device_for(memory_gb=memory_gb) == expected


@pytest.mark.parametrize(
    ("memory_gb", "min_compute", "expected"),
    [
        (0, 100, "L4"),
        (24, 122, "A10G"),
        (10, 300, "A100-40GB"),
        (41, 320, "L40S"),
        (10, 500, "H100"),
        (90, 500, "H200"),
        (10, 1000, "B200"),
    ],
)
def test_compute_floor(memory_gb, min_compute, expected):
    assert gpus.device_for(memory_gb=memory_gb, min_compute=min_compute) == expected


@pytest.mark.parametrize(("memory_gb", "min_compute"), [(181, None), (500, None), (10, 5000)])
def test_impossible_requests_say_what_is_on_offer(memory_gb, min_compute):
    with pytest.raises(ValueError, match="no GPU type has") as caught:
        gpus.device_for(memory_gb=memory_gb, min_compute=min_compute)
    assert "B200 (180 GB, 2250 TFLOP/s)" in str(caught.value)


def test_negative_requests_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        gpus.device_for(memory_gb=-1)


def test_choices_and_the_configured_set(monkeypatch):
    assert gpus.device_for(memory_gb=20, choices=["t4", "H100"]) == "H100"
    with pytest.raises(ValueError, match="no GPU type has 100 GB"):
        gpus.device_for(memory_gb=100, choices=["T4", "A100-80GB"])
    monkeypatch.setenv("TORCH_REMOTE_GPUS", "A10G, H200")
    assert gpus.device_for(memory_gb=1) == "A10G"
    assert gpus.device_for(memory_gb=30) == "H200"
    monkeypatch.setenv("TORCH_REMOTE_GPUS", "A10G,V100")
    with pytest.raises(ValueError, match="unknown GPU type 'V100'"):
        gpus.device_for(memory_gb=1)


@pytest.mark.parametrize(
    ("spec", "modal", "memory"),
    [
        ("h100", "H100", 80),
        ("H100:2", "H100:2", 80),
        ("a100-80gb:8", "A100-80GB:8", 80),
        ("A10", "A10G", 24),
        ("a10g", "A10G", 24),
        ("A100", "A100-40GB", 40),
        (" l40s ", "L40S", 48),
        ("b200", "B200", 180),
    ],
)
def test_names_are_case_insensitive_with_counts(spec, modal, memory):
    parsed = gpus.parse_gpu(spec)
    assert parsed.modal == modal
    assert parsed.type.memory_gb == memory


@pytest.mark.parametrize("spec", ["V100", "H100x", "", "RTX4090:1"])
def test_unknown_types_list_the_valid_ones(spec):
    with pytest.raises(ValueError) as caught:
        gpus.parse_gpu(spec)
    message = str(caught.value)
    for name in ["T4", "L4", "A10G", "A100-40GB", "A100-80GB", "L40S", "H100", "H200", "B200"]:
        assert name in message


@pytest.mark.parametrize("spec", ["H100:0", "H100:9", "H100:two"])
def test_bad_counts(spec):
    with pytest.raises(ValueError, match="bad GPU count"):
        gpus.parse_gpu(spec)


def test_the_table_is_ordered_and_sane():
    names = gpus.valid_names()
    assert len(names) == len(set(names)) == 9
    keys = [(g.memory_gb, g.bf16_tflops) for g in gpus.GPUS]
    assert keys == sorted(keys)
    assert all(g.memory_gb > 0 and g.bf16_tflops >= 0 and g.source for g in gpus.GPUS)


def test_auto_gpu_routes_through_device_for():
    chosen = providers.make("modal", gpu="auto", memory_gb=30, idle_timeout=60)
    assert isinstance(chosen, providers.ModalProvider)
    assert chosen.gpu.modal == "A100-40GB"
    assert chosen.idle_timeout == 60
    chosen = providers.make("modal", memory_gb=10, min_compute=500)
    assert chosen.gpu.modal == "H100"
    (chosen,) = providers.make_devices("modal", devices=["l4"])
    assert chosen.gpu.modal == "L4"


def test_several_devices_get_one_provider_each():
    made = providers.make_devices("modal", devices=["T4", "h100:2"], idle_timeout=60)
    assert [type(p) for p in made] == [providers.ModalProvider] * 2
    assert [p.gpu.modal for p in made] == ["T4", "H100:2"]
    assert all(p.idle_timeout == 60 for p in made)
    made = providers.make_devices("host", devices=["tcp://a:1", "tls://b:2"], token="t")
    assert [p.start() for p in made] == [
        providers.Endpoint("tcp://a:1", "t"),
        providers.Endpoint("tls://b:2", "t"),
    ]
    made = providers.make_devices("local", devices=3)
    assert [p.start() for p in made] == [providers.Endpoint(None, None)] * 3
    with pytest.raises(ValueError, match="names no remote device"):
        providers.make_devices("modal", devices=[])
    with pytest.raises(ValueError, match="give the GPU types in devices"):
        providers.make_devices("modal", gpu="T4", devices=["T4", "L4"])
    with pytest.raises(ValueError, match="unknown GPU type 'V100'"):
        torch_remote.connect(provider="modal", devices=["T4", "V100"])


def test_gpu_types_from_the_environment(monkeypatch):
    monkeypatch.setenv("TORCH_REMOTE_GPU", "T4, h100")
    assert torch_remote.requested_gpus(None, None) == (None, ["T4", "h100"])
    assert torch_remote.requested_gpus("L4", None) == ("L4", None)
    monkeypatch.setenv("TORCH_REMOTE_GPU", "A100")
    assert torch_remote.requested_gpus(None, None) == ("A100", None)
    assert torch_remote.requested_gpus(None, 2) == (None, 2)


def test_provider_errors_before_any_network():
    with pytest.raises(ValueError, match="unknown provider 'runpod'; known: host, local, modal"):
        providers.make("runpod")
    with pytest.raises(ValueError, match="unknown GPU type 'V100'"):
        torch_remote.connect(provider="modal", gpu="V100")
    with pytest.raises(ValueError, match='provider="modal"'):
        providers.make("local", gpu="H100")


def test_host_provider_needs_url_and_token(monkeypatch):
    monkeypatch.delenv("TORCH_REMOTE_URL", raising=False)
    monkeypatch.delenv("TORCH_REMOTE_TOKEN", raising=False)
    with pytest.raises(ValueError, match="needs url="):
        providers.make("host")
    with pytest.raises(ValueError, match="needs token="):
        providers.make("host", url="tcp://127.0.0.1:1")
    endpoint = providers.make("host", url="tls://h.example:443", token="s3cret").start()
    assert endpoint == providers.Endpoint("tls://h.example:443", "s3cret")
    assert "s3cret" not in repr(endpoint)
    assert providers.make("local").start() == providers.Endpoint(None, None)


def test_a_new_provider_kind_plugs_in(host_process):
    """A provider registered from outside binds remote:0 with no change to dispatch."""
    address, token, _ = host_process

    class Fixed(providers.Provider):
        name = "fixed"

        def __init__(self, **_):
            self.stopped = False

        def start(self):
            return providers.Endpoint(f"tcp://{address}", token)

        def stop(self):
            self.stopped = True

    providers.register("fixed", Fixed)
    try:
        import torch

        endpoint = torch_remote.connect(provider="fixed")
        assert endpoint.url == f"tcp://{address}"
        assert torch.ones(2, device="remote").sum().item() == 2.0
        (first,) = torch_remote._active
        torch_remote.connect()  # back to the embedded default; the provider is released
        assert first.stopped and torch_remote._active == []
        assert torch.ones(3, device="remote").sum().item() == 3.0
    finally:
        providers._PROVIDERS.pop("fixed", None)
        torch_remote.connect()
