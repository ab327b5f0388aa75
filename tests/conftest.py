"""Shared helpers: the three ways an op runs (CPU reference, remote host, dry run) and the
comparison of their metadata and values."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import textwrap

import pytest
import torch
import torch_remote

REMOTE = torch.device("remote")


def meta(t: torch.Tensor) -> tuple:
    """What must agree across the three runs: sizes, strides, storage offset, dtype."""
    return (tuple(t.shape), t.stride(), t.storage_offset(), t.dtype)


def to_remote(value):
    if isinstance(value, torch.Tensor):
        return value.to(REMOTE)
    if isinstance(value, (list, tuple)):
        return type(value)(to_remote(v) for v in value)
    return value


def outputs(result) -> list[torch.Tensor]:
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for t in result if isinstance(t, torch.Tensor)]


def assert_refused_like_the_cpu(call) -> None:
    """`call(device)` raises on the CPU, and on remote the same exception with the CPU's
    message in its own (which adds the op, shapes and device)."""
    with pytest.raises(Exception) as cpu:
        call("cpu")
    with pytest.raises(type(cpu.value)) as remote:
        call("remote")
    assert type(remote.value) is type(cpu.value)
    assert str(cpu.value) in str(remote.value)


def with_round_trips(fn):
    """What `fn()` returns, and the round trips it made."""
    before = torch.remote.stats()["round_trips"]
    value = fn()
    return value, torch.remote.stats()["round_trips"] - before


def round_trips(fn) -> int:
    return with_round_trips(fn)[1]


class FirstInputOnly(torch.autograd.Function):
    """`a + b` that passes its gradient to `a` only: `b`'s graph gets an undefined one."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (for settings read at import)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


@contextlib.contextmanager
def started_host(open_files: int | None = None):
    """A separate `torch-remote-host` on a free port with a known token (and at most
    `open_files` file descriptors): its address, token and process."""
    token = "test-token-0123456789"
    limit = None
    if open_files is not None:
        limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))  # noqa: E731
    proc = subprocess.Popen(
        [torch_remote.host_program(), "--listen", "127.0.0.1:0", "--exit-on-stdin-close"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "TORCH_REMOTE_TOKEN": token},
        text=True,
        preexec_fn=limit,
    )
    try:
        yield proc.stdout.readline().split()[3], token, proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


@pytest.fixture
def host_process():
    with started_host() as started:
        yield started


def pytest_terminal_summary(terminalreporter):
    """Shows the OpInfo line of tests/test_opinfo.py in the summary."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get(
        "failed", []
    ):
        for name, value in getattr(report, "user_properties", []):
            if name == "opinfo":
                terminalreporter.write_line(value)
