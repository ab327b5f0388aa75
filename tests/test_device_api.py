"""`torch.remote`: the device module, in the manner of `torch.cuda`."""

import os

import pytest
import torch
import torch_remote  # noqa: F401
from conftest import round_trips, run_python


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


def test_a_generators_offset_rewinds_its_stream():
    g = torch.Generator("remote").manual_seed(5)
    first = torch.rand(3, generator=g, device="remote").cpu()
    second = torch.rand(3, generator=g, device="remote").cpu()
    assert g.get_offset() == 2
    g.set_offset(1)
    torch.testing.assert_close(torch.rand(3, generator=g, device="remote").cpu(), second)
    g.set_offset(0)
    torch.testing.assert_close(torch.rand(3, generator=g, device="remote").cpu(), first)


def test_rng_state_round_trips():
    torch.remote.manual_seed(7)
    state = torch.remote.get_rng_state()
    first = torch.rand(5, device="remote").cpu()
    assert not torch.equal(torch.rand(5, device="remote").cpu(), first)
    torch.remote.set_rng_state(state)
    assert torch.equal(torch.rand(5, device="remote").cpu(), first)
    with pytest.raises(RuntimeError, match="RNG state is wrong size"):
        torch.remote.set_rng_state(torch.zeros(3, dtype=torch.uint8))
    for wrong in (state.float(), state.to("remote")):
        with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
            torch.remote.set_rng_state(wrong)


def test_generator_and_device_states_are_one_format():
    """As on CUDA, a generator's state and the device's are the same 16 bytes, and each
    setter takes the other's."""
    generator = torch.Generator(device="remote").manual_seed(3)
    state = generator.get_state()
    assert state.dtype == torch.uint8 and state.shape == torch.remote.get_rng_state().shape
    first = torch.rand(4, device="remote", generator=generator).cpu()
    torch.remote.set_rng_state(state)
    assert torch.equal(torch.rand(4, device="remote").cpu(), first)
    torch.remote.manual_seed(11)
    generator.set_state(torch.remote.get_rng_state())
    assert torch.equal(
        torch.rand(4, device="remote", generator=generator).cpu(),
        torch.rand(4, device="remote").cpu(),
    )
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        generator.set_state(state.long())


def _draws(generator=None):
    device = "remote"
    return torch.cat(
        [
            torch.randn(3, device=device, generator=generator),
            torch.rand(2, device=device, generator=generator),
            torch.randperm(4, device=device, generator=generator).float(),
        ]
    ).cpu()


def test_each_generator_keeps_its_own_state():
    """As on the CPU: seeding or drawing from one generator leaves the others alone."""
    torch.manual_seed(0)
    default = _draws()
    torch.manual_seed(0)
    generator = torch.Generator(device="remote").manual_seed(9)
    assert torch.equal(_draws(), default)
    first = _draws(generator)
    generator.manual_seed(9)
    torch.manual_seed(123)
    _draws()
    assert torch.equal(_draws(generator), first)
    assert torch.equal(_draws(torch.Generator(device="remote").manual_seed(9)), first)
    assert not torch.equal(first, default)
    torch.manual_seed(0)
    _draws(generator)
    assert torch.equal(_draws(), default)


def test_generator_state_and_clone_come_from_the_host():
    generator = torch.Generator(device="remote")
    assert generator.initial_seed() == torch.Generator().initial_seed()
    generator.manual_seed(3)
    _draws(generator)
    state = generator.get_state()
    clone = generator.clone_state()
    after = _draws(generator)
    assert torch.equal(_draws(clone), after)
    generator.set_state(state)
    assert torch.equal(_draws(generator), after)


@pytest.mark.parametrize(
    "call",
    [
        lambda g: torch.randn(3, generator=g),
        lambda g: torch.rand(2).normal_(generator=g),
        lambda g: torch.randperm(4, generator=g),
    ],
)
def test_a_remote_generator_is_refused_for_cpu_tensors(call):
    with pytest.raises(
        RuntimeError, match="Expected a 'cpu' device type for generator but found 'remote'"
    ):
        call(torch.Generator(device="remote"))


def test_a_cpu_generator_is_refused_as_on_cuda():
    with pytest.raises(
        RuntimeError, match="Expected a 'remote' device type for generator but found 'cpu'"
    ):
        torch.randn(2, device="remote", generator=torch.Generator())


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_replays_dropout_masks(reentrant):
    # Activation checkpointing runs the forward again in the backward: the remote random
    # state it saved and restores must give the same dropout mask.
    from torch.utils.checkpoint import checkpoint

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 32), torch.nn.Dropout(0.5), torch.nn.Linear(32, 1)
    ).to("remote")
    x = torch.randn(8, 32, device="remote", requires_grad=True)
    grads = []
    for wrapped in (model, lambda t: checkpoint(model, t, use_reentrant=reentrant)):
        torch.manual_seed(1)
        wrapped(x).sum().backward()
        grads.append(x.grad.cpu())
        x.grad = None
    torch.testing.assert_close(grads[1], grads[0])


def test_peak_memory_follows_the_host():
    torch.remote.synchronize()
    torch.remote.reset_peak_memory_stats()
    before = torch.remote.memory_allocated()
    assert torch.remote.max_memory_allocated() == before
    big = torch.empty(1 << 20, device="remote")
    del big
    assert torch.remote.memory_allocated() == before
    assert torch.remote.max_memory_allocated() >= before + (4 << 20)
    torch.remote.empty_cache()


def test_accelerator_synchronize_waits_and_raises_the_hosts_failure():
    kept = torch.arange(3.0).to("remote")
    torch.empty(1 << 46, device="remote")  # 256 TiB: the host refuses it after the call
    with pytest.raises(RuntimeError, match="empty"):
        torch.accelerator.synchronize()
    torch.accelerator.synchronize()
    torch.testing.assert_close(kept.cpu(), torch.arange(3.0))


def test_events_time_the_ops_between_them():
    x = torch.randn(256, 256).to("remote")
    start, end = (torch.remote.Event(enable_timing=True) for _ in range(2))
    start.record()
    y = x
    for _ in range(10):
        y = y @ x / 256
    end.record()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) > 0
    expected = x.cpu()
    for _ in range(10):
        expected = expected @ x.cpu() / 256
    torch.testing.assert_close(y.cpu(), expected)


def test_a_timing_event_whose_record_failed_keeps_its_earlier_time():
    start, end = (torch.remote.Event(enable_timing=True) for _ in range(2))
    start.record()
    x = torch.zeros(4, device="remote")
    x.masked_scatter_(
        torch.ones(4, dtype=torch.bool, device="remote"), torch.ones(2, device="remote")
    )
    with pytest.raises(RuntimeError, match="number of ones in mask"):
        start.record()
    end.record()
    assert 0 <= start.elapsed_time(end) < 60_000


def test_an_event_without_timing_waits_only_when_asked():
    # Prefetchers record events to order streams: on CUDA that costs no wait.
    x = torch.randn(64, 64).to("remote")
    torch.remote.synchronize()
    event, other = torch.remote.Event(), torch.remote.Event()
    y = x @ x
    assert round_trips(event.record) == 0
    assert round_trips(lambda: torch.remote.current_stream().record_event(other)) == 0
    assert round_trips(event.synchronize) == 1
    assert round_trips(event.synchronize) + round_trips(event.query) == 0
    assert round_trips(other.query) == 1 and other.query()
    with pytest.raises(ValueError, match="enable_timing=True"):
        event.elapsed_time(other)
    torch.testing.assert_close(y.cpu(), x.cpu() @ x.cpu())


def test_streams_seeds_and_reserved_memory():
    default = torch.remote.current_stream()
    assert default.device == torch.device("remote", 0) and default == torch.remote.default_stream()
    side = torch.remote.Stream()
    assert side != default and torch.Stream(device="remote") != side
    with torch.remote.stream(side):
        assert torch.remote.current_stream() == side
        x = torch.ones(4, device="remote") * 2
    assert torch.remote.current_stream() == default
    default.wait_stream(side)
    assert side.query()
    torch.testing.assert_close(x.cpu(), torch.full((4,), 2.0))
    torch.remote.manual_seed(123)
    assert torch.remote.initial_seed() == 123
    torch.remote.seed()
    assert torch.remote.initial_seed() != 123
    torch.remote.manual_seed_all(7)
    torch.remote.seed_all()
    assert torch.remote.initial_seed() != 7
    assert torch.remote.memory_reserved() >= x.nbytes
    assert torch.remote.max_memory_reserved() >= torch.remote.memory_reserved()


def test_record_stream_takes_remote_streams():
    """Prefetching loaders and FSDP call `record_stream`; remote runs every stream in order,
    so it has nothing to do, but a stream of another device is refused."""
    x = torch.arange(4.0).to("remote")
    side = torch.remote.Stream()
    with torch.remote.stream(side):
        y = x * 3
    y.record_stream(torch.remote.current_stream())
    x.record_stream(side)
    del x
    torch.testing.assert_close(y.cpu(), torch.arange(4.0) * 3)
    with pytest.raises(RuntimeError, match="the stream is on cpu"):
        y.record_stream(torch.Stream(device="cpu"))


def test_mem_get_info_is_the_hosts_free_and_total_memory():
    free, total = torch.remote.mem_get_info()
    assert total == torch.remote.get_device_properties().total_memory
    assert 0 < free <= total


def test_accelerator_memory_functions_read_the_host():
    torch.accelerator.reset_peak_memory_stats()
    before = torch.accelerator.memory_allocated()
    x = torch.ones(256, 1024, device="remote")
    assert torch.accelerator.memory_allocated() == before + x.nbytes
    assert torch.accelerator.memory_allocated() == torch.remote.memory_allocated()
    del x
    assert torch.accelerator.memory_allocated() == before
    assert torch.accelerator.max_memory_allocated() >= before + 256 * 1024 * 4
    torch.accelerator.reset_peak_memory_stats()
    assert torch.accelerator.max_memory_allocated() == before
    torch.accelerator.empty_cache()
    free, total = torch.accelerator.get_memory_info()
    assert total == torch.remote.mem_get_info()[1] and 0 < free <= total


def test_memory_stats_and_resets_mirror_torch_cuda():
    torch.remote.synchronize()
    kept = torch.empty(1 << 18, device="remote")
    stats = torch.remote.memory_stats()
    assert stats["allocated_bytes.all.current"] >= kept.nbytes
    assert stats["allocated_bytes.all.peak"] >= stats["allocated_bytes.all.current"]
    torch.remote.reset_accumulated_memory_stats()
    assert torch.remote.memory_stats()["allocated_bytes.all.allocated"] == 0
    with pytest.warns(FutureWarning, match="reset_peak_memory_stats"):
        torch.remote.reset_max_memory_allocated()
    assert torch.remote.max_memory_allocated() == torch.remote.memory_allocated()


def test_device_of_and_set_stream():
    with torch.remote.device_of(torch.ones(1, device="remote:0")):
        assert torch.remote.current_device() == 0
    with torch.remote.device_of(torch.ones(1)):
        assert torch.remote.current_device() == 0
    side = torch.remote.Stream()
    before = torch.remote.current_stream()
    torch.remote.set_stream(side)
    try:
        assert torch.remote.current_stream() == side
    finally:
        torch.remote.set_stream(before)
    assert torch.remote.current_stream() == before


def test_a_stream_made_without_an_index_is_on_the_current_device():
    stream = torch.Stream(device="remote")
    assert stream.device_index == torch.remote.current_device()
    with torch.remote.stream(stream):
        total = torch.ones(3, device="remote").sum()
    stream.synchronize()
    assert total.item() == 3.0


def test_a_forked_child_cannot_use_remote_and_leaves_the_parents_session_alone():
    done = run_python(
        """
        import os, sys, torch, torch_remote
        x = torch.ones(3, device="remote")
        assert x.sum().item() == 3.0 and not torch.remote._is_in_bad_fork()
        pid = os.fork()
        if pid == 0:
            torch.remote.manual_seed_all(0)  # as CUDA's, seeding is no use here, not an error
            torch.remote.seed()
            try:
                torch.arange(4.0, device="remote")
            except RuntimeError as e:
                cut_off = "forked subprocess" in str(e) and torch.remote._is_in_bad_fork()
                sys.exit(0 if cut_off else 2)
            sys.exit(1)  # a normal exit: the child's atexit hooks run
        _, status = os.waitpid(pid, 0)
        fresh = torch.arange(4.0, device="remote").sum().item()
        print(os.WEXITSTATUS(status), (x + 1).sum().item(), fresh)
        """
    )
    assert done.stdout.split() == ["0", "6.0", "6.0"], done


def test_the_default_generator_starts_from_a_random_seed_as_the_cpus_and_cudas():
    code = """
        import torch, torch_remote
        seed = torch.remote.initial_seed()
        first = torch.rand(3, device="remote").cpu()
        torch.remote.manual_seed(seed)
        assert torch.equal(torch.rand(3, device="remote").cpu(), first)
        print(seed)
        """
    runs = [run_python(code) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout != runs[1].stdout


def test_finalizers_at_exit_still_read_remote_tensors_as_on_cuda():
    # `weakref.finalize`'s exit hook is an atexit callback that torch registers at its import,
    # so it runs after torch_remote's own.
    result = run_python(
        """
        import weakref, torch, torch_remote
        class Owner:
            pass
        owner, kept = Owner(), torch.ones(3, device="remote")
        weakref.finalize(owner, lambda: print("finalized", (kept * 2).cpu().tolist()))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "finalized [2.0, 2.0, 2.0]" in result.stdout


def test_streams_and_events_are_classes_as_cudas():
    event = torch.remote.Event(enable_timing=True)
    assert isinstance(event, torch.remote.Event) and isinstance(event, torch.Event)
    assert not isinstance(torch.Event("cpu"), torch.remote.Event)
    current = torch.remote.current_stream()
    assert isinstance(current, torch.remote.Stream) and isinstance(current, torch.Stream)
    assert current == torch.remote.default_stream()
    side = torch.remote.Stream()
    with torch.remote.stream(side):
        assert torch.remote.current_stream() == side
        x = torch.ones(3, device="remote") * 3
        event.record()
    event.synchronize()
    assert event.device == torch.device("remote", 0)
    torch.testing.assert_close(x.cpu(), torch.full((3,), 3.0))


def test_the_legacy_profiler_times_remote_ops():
    x = torch.ones(64, 64, device="remote")
    with torch.autograd.profiler.profile(use_device="remote") as profile:
        with torch.autograd.profiler.record_function("block"):
            (x @ x).sum().cpu()
    times = {e.key: e for e in profile.key_averages()}
    assert {"block", "aten::mm"} <= times.keys()
    assert times["block"].cpu_time_total > 0
    assert times["aten::mm"].device_time_total > 0
