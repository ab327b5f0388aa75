"""The dry run needs no host: shapes are exact and values cannot be read."""

from conftest import run_python


def test_dry_run_from_environment_needs_no_host():
    done = run_python(
        """
        import torch, torch_remote
        a = torch.randn(8, 16, device="remote")
        b = torch.randn(16, 4, device="remote")
        out = (a @ b).relu().sum(0)
        assert out.shape == (4,), out.shape
        assert out.stride() == (1,) and out.dtype == torch.float32
        try:
            out.cpu()
        except RuntimeError as e:
            assert "dry run" in str(e), e
            print("dry-run-error-raised")
        """,
        env={"TORCH_REMOTE_DRY_RUN": "1", "TORCH_REMOTE_HOST_PROGRAM": "/nonexistent/host"},
    )
    assert done.returncode == 0, done.stderr
    assert "dry-run-error-raised" in done.stdout


def test_dry_run_context_keeps_the_host_tensors():
    import torch
    import torch_remote

    kept = torch.arange(6.0).to("remote")
    with torch_remote.dry_run():
        x = torch.ones(2, 3, device="remote").t()
        assert x.shape == (3, 2) and x.stride() == (1, 3)
        y = x.sum(1, keepdim=True)
        assert y.shape == (3, 1)
    torch.testing.assert_close(kept.cpu(), torch.arange(6.0))


def test_a_dry_run_keeps_the_seeds_it_was_given():
    import torch
    import torch_remote

    with torch_remote.dry_run():
        generator = torch.Generator(device="remote")
        generator.manual_seed(5)
        assert generator.initial_seed() == 5


def test_a_tensor_freed_in_a_dry_run_is_freed_on_the_host_after_it():
    import torch
    import torch_remote

    torch.remote.synchronize()
    before = torch.remote.memory_allocated()
    doomed = torch.ones(1 << 18, device="remote")
    torch.remote.synchronize()
    assert torch.remote.memory_allocated() == before + (1 << 20)
    with torch_remote.dry_run():
        del doomed
        (torch.ones(3, device="remote") * 2).sum()
    torch.remote.synchronize()
    assert torch.remote.memory_allocated() == before
