"""The Modal app that serves torch-remote: ``torch-remote-host`` with CUDA libtorch on a GPU.

Deploy once, then connect from anywhere with Modal credentials::

    modal deploy modal-image/torch_remote_modal.py
    python -c 'import torch, torch_remote; torch_remote.connect(provider="modal", gpu="H100"); ...'

or, without deploying, set ``TORCH_REMOTE_MODAL_APP=modal-image/torch_remote_modal.py`` and the
client runs this app ephemerally (``app.run()``) for as long as the Python process lives.

Each call of :func:`serve` is one container, one host, one token: it starts the host, opens
Modal's TLS tunnel to it (``modal.forward``), publishes ``tls://host:port`` in the Modal Dict
:data:`ENDPOINTS` under the caller's key, and returns when the host stops, which it does after
``idle_timeout`` seconds without any client message; the container then stops with it.

What runs inside the tunnel is :func:`run_host`, a plain function: the tests run it locally
with a forwarder that does nothing, on the same command line and environment.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import modal

APP_NAME = "torch-remote"
#: The Modal Dict where containers publish their tunnel URL, keyed by the client's key.
ENDPOINTS = "torch-remote-endpoints"
#: The GPU of the function as deployed; every client call picks its own with ``with_options``.
DEFAULT_GPU = "T4"
#: Modal's longest function timeout (24 h); the host's idle timeout ends a call long before.
FUNCTION_TIMEOUT_S = 24 * 60 * 60
#: Stop after this long without a client message unless the caller says otherwise.
DEFAULT_IDLE_TIMEOUT_S = 600
#: Seconds the container waits for ``torch-remote-host`` to print its address.
HOST_START_TIMEOUT_S = 120
TORCH_VERSION = "2.13.0"
#: A named Modal Secret holding TORCH_REMOTE_TOKEN, attached at deploy time when this
#: variable names one; otherwise each client passes its own token with ``with_options(env=)``.
SECRET_ENV = "TORCH_REMOTE_MODAL_SECRET"

REPO = Path(__file__).resolve().parent.parent
#: What the image build needs from the checkout: the workspace, without builds or venvs.
REPO_IGNORE = ["target", ".venv", ".git", "**/__pycache__", "**/*.whl", "shared"]


def host_command(idle_timeout: int, program: str = "torch-remote-host") -> list[str]:
    """The host's command line, in the container and in the local test alike: every
    interface, a free port (the tunnel forwards whichever it gets), CUDA when present."""
    return [
        program,
        "--listen",
        "0.0.0.0:0",
        "--device",
        "auto",
        "--idle-timeout",
        str(int(idle_timeout)),
    ]


def host_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The host's environment: the token from TORCH_REMOTE_TOKEN and info logging (so the
    idle stop shows in the container's log)."""
    env = dict(os.environ if base is None else base)
    if not env.get("TORCH_REMOTE_TOKEN"):
        raise RuntimeError(
            "no TORCH_REMOTE_TOKEN in the container: pass one with "
            "with_options(env={'TORCH_REMOTE_TOKEN': ...}) or deploy with "
            f"{SECRET_ENV}=<a Modal Secret holding TORCH_REMOTE_TOKEN>"
        )
    env.setdefault("TORCH_REMOTE_LOG", "info")
    return env


Forwarder = Callable[[int], contextlib.AbstractContextManager[str]]


@contextlib.contextmanager
def modal_forward(port: int) -> Iterator[str]:
    """Modal's TLS tunnel to ``port``, as a ``tls://host:port`` URL."""
    with modal.forward(port) as tunnel:
        host, public_port = tunnel.tls_socket
        yield f"tls://{host}:{public_port}"


@contextlib.contextmanager
def no_forward(port: int) -> Iterator[str]:
    """No tunnel: the host's port on this machine, plain TCP (for local runs and tests)."""
    yield f"tcp://127.0.0.1:{port}"


def run_host(
    *,
    forward: Forwarder,
    publish: Callable[[str], None],
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT_S,
    program: str = "torch-remote-host",
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> int:
    """Starts the host, forwards its port, publishes the URL and waits for the host to stop
    (its idle timeout). Returns the host's exit status; raises if it dies before listening."""
    command = host_command(idle_timeout, program)
    log(f"torch-remote: starting {' '.join(command)}")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=host_env(env), text=True)
    try:
        first = _first_line(proc, HOST_START_TIMEOUT_S)
        words = first.split()
        if len(words) < 4 or words[:3] != ["torch-remote-host", "listening", "on"]:
            proc.kill()
            raise RuntimeError(
                f"torch-remote-host did not start (exit status {proc.wait()}, printed "
                f"{first!r}); its log is above"
            )
        log(f"torch-remote: {first.strip()}")
        port = int(words[3].rsplit(":", 1)[1])
        with forward(port) as url:
            log(f"torch-remote: serving at {url}; idle timeout {idle_timeout} s")
            publish(url)
            status = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    log(f"torch-remote: host stopped (exit status {status})")
    return status


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The host's first stdout line, or '' if it exits or stays silent for ``timeout``."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


# --- The Modal app ------------------------------------------------------------------------

image = (
    modal.Image.debian_slim(python_version="3.12")
    .apt_install("build-essential", "ca-certificates", "curl", "pkg-config")
    .pip_install(f"torch=={TORCH_VERSION}")
    .run_commands(
        "curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs"
        " | sh -s -- -y --profile minimal --default-toolchain stable",
        "/root/.cargo/bin/rustup target add wasm32-wasip2",
    )
    .env(
        {
            "PATH": "/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            # tch builds against the torch wheel (CUDA libtorch) rather than downloading one.
            "LIBTORCH_USE_PYTORCH": "1",
        }
    )
    .add_local_dir(REPO, "/src", copy=True, ignore=REPO_IGNORE)
    .run_commands(
        "cd /src && cargo build --release -p torch-remote-host --bin torch-remote-host"
        " && install -m 755 target/release/torch-remote-host /usr/local/bin/torch-remote-host"
        " && rm -rf target",
    )
)

app = modal.App(APP_NAME, image=image)


def deploy_secrets() -> list[modal.Secret]:
    name = os.environ.get(SECRET_ENV, "").strip()
    return [modal.Secret.from_name(name, required_keys=["TORCH_REMOTE_TOKEN"])] if name else []


@app.function(
    gpu=DEFAULT_GPU,
    timeout=FUNCTION_TIMEOUT_S,
    secrets=deploy_secrets(),
    scaledown_window=2,
    single_use_containers=True,
)
def serve(key: str, idle_timeout: int = DEFAULT_IDLE_TIMEOUT_S) -> int:
    """One host in this container until it has been idle for ``idle_timeout`` seconds."""
    endpoints = modal.Dict.from_name(ENDPOINTS, create_if_missing=True)

    def publish(url: str) -> None:
        endpoints[key] = {"url": url, "since": time.time()}

    try:
        return run_host(forward=modal_forward, publish=publish, idle_timeout=idle_timeout)
    finally:
        with contextlib.suppress(Exception):
            endpoints.pop(key)
        sys.stdout.flush()


@app.local_entrypoint()
def main(gpu: str = "T4", idle_timeout: int = DEFAULT_IDLE_TIMEOUT_S) -> None:
    """``modal run modal-image/torch_remote_modal.py --gpu H100``: starts a host and prints
    the settings a client needs, until it stops."""
    import secrets as _secrets

    token = os.environ.get("TORCH_REMOTE_TOKEN") or _secrets.token_hex(24)
    key = f"manual-{_secrets.token_hex(8)}"
    call = serve.with_options(gpu=gpu, env={"TORCH_REMOTE_TOKEN": token}).spawn(key, idle_timeout)
    endpoints = modal.Dict.from_name(ENDPOINTS, create_if_missing=True)
    while (entry := endpoints.get(key)) is None:
        time.sleep(1)
    print(f"TORCH_REMOTE_URL={entry['url']} TORCH_REMOTE_TOKEN={token}")
    print(f"host exited with {call.get()}")


def main_local(argv: list[str] | None = None) -> int:
    """``python modal-image/torch_remote_modal.py --local``: the container's entrypoint on this
    machine, with no tunnel; the URL is printed and, with ``--publish-file``, written there
    (the stand-in for the Modal Dict). Token from TORCH_REMOTE_TOKEN."""
    import argparse

    parser = argparse.ArgumentParser(description=main_local.__doc__)
    parser.add_argument("--local", action="store_true", required=True)
    parser.add_argument("--idle-timeout", type=int, default=DEFAULT_IDLE_TIMEOUT_S)
    parser.add_argument("--publish-file", type=Path)
    args = parser.parse_args(argv)

    def publish(url: str) -> None:
        print(f"TORCH_REMOTE_URL={url}", flush=True)
        if args.publish_file:
            partial = args.publish_file.with_suffix(".partial")
            partial.write_text(url)
            partial.replace(args.publish_file)

    def log(line: str) -> None:
        print(line, flush=True)

    return run_host(forward=no_forward, publish=publish, idle_timeout=args.idle_timeout, log=log)


if __name__ == "__main__":
    sys.exit(main_local())
