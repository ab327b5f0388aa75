"""The Modal provider without a cloud: the app, image and function as Modal's objects hold
them; the container's entrypoint run here on the same command line, a client attached to it
through the provider's code path; the idle stop; TLS links; the errors a user sees."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch_remote
from conftest import run_python
from torch_remote import providers

ROOT = Path(__file__).resolve().parent.parent
APP_FILE = ROOT / "modal-image" / "torch_remote_modal.py"


def load_app_module():
    spec = importlib.util.spec_from_file_location("torch_remote_modal", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app_module():
    return load_app_module()


def raw(obj):
    """The object behind Modal's synchronicity wrapper."""
    from modal._utils.async_utils import synchronizer

    return synchronizer._translate_in(obj)


def closure(function) -> dict:
    cells = [c.cell_contents for c in function.__closure__]
    return dict(zip(function.__code__.co_freevars, cells, strict=True))


def image_commands(image) -> list[list[str]]:
    """Each layer's Dockerfile commands, base first."""
    layers = []
    current = raw(image)
    while current is not None:
        cells = closure(current._load)
        build = cells["dockerfile_function"]
        layers.append(build("2025.06").commands if build else [])
        bases = cells["base_images"]
        current = next(iter(bases.values())) if bases else None
    return layers[::-1]


def test_the_app_builds_offline(app_module):
    m = app_module
    assert m.app.name == "torch-remote" == providers.MODAL_APP
    assert m.ENDPOINTS == providers.MODAL_ENDPOINTS
    cells = closure(raw(m.serve)._load)
    assert cells["tag"] == providers.MODAL_FUNCTION
    assert cells["gpu"] == "T4"
    assert cells["timeout"] == 24 * 60 * 60
    assert cells["single_use_containers"] is True
    assert cells["scaledown_window"] == 2
    assert raw(m.serve)._spec.gpus == "T4"
    assert raw(m.serve)._spec.secrets == []  # each client passes its token (below)


def test_the_image_recipe(app_module):
    layers = image_commands(app_module.image)
    text = "\n".join(" ".join(layer) for layer in layers)
    assert layers[0][0].startswith("FROM python:3.12")  # debian_slim
    assert "pip install torch==2.13.0" in text
    assert "rustup target add wasm32-wasip2" in text
    assert "ENV LIBTORCH_USE_PYTORCH=1" in text
    assert "COPY . /" in text  # add_local_dir(copy=True): the checkout, built in the image
    last = " ".join(layers[-1])
    assert "cargo build --release -p torch-remote-host" in last
    assert "install -m 755 target/release/torch-remote-host /usr/local/bin/" in last
    assert {"target", ".venv", ".git"} <= set(app_module.REPO_IGNORE)
    assert app_module.REPO == ROOT


def test_a_deploy_time_secret():
    out = run_python(
        f"""
        import importlib.util, sys
        from modal._utils.async_utils import synchronizer
        spec = importlib.util.spec_from_file_location("torch_remote_modal", {str(APP_FILE)!r})
        m = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = m
        spec.loader.exec_module(m)
        (secret,) = synchronizer._translate_in(m.serve)._spec.secrets
        print("secret:", secret)
        """,
        env={"TORCH_REMOTE_MODAL_SECRET": "my-torch-remote-token"},
    )
    assert out.returncode == 0, out.stderr
    assert "my-torch-remote-token" in out.stdout


@pytest.mark.parametrize(
    ("asked", "gpu_type", "count"),
    [("T4", "T4", 1), ("l4", "L4", 1), ("a10", "A10G", 1), ("A100-40GB", "A100-40GB", 1)]
    + [("a100-80gb:4", "A100-80GB", 4), ("L40S", "L40S", 1), ("h100", "H100", 1)]
    + [("H100:8", "H100", 8), ("h200:2", "H200", 2), ("B200", "B200", 1)],
)
def test_each_call_gets_its_gpu_and_token(app_module, asked, gpu_type, count):
    provider = providers.ModalProvider(asked, token="tok-123", idle_timeout=90)
    variant = raw(app_module.serve.with_options(**provider.function_options()))
    gpu = variant._options.resources.gpu_config
    assert (gpu.gpu_type, gpu.count) == (gpu_type, count)
    (secret,) = variant._options.secrets
    assert "TORCH_REMOTE_TOKEN" in repr(secret)
    assert provider.function_options()["env"] == {"TORCH_REMOTE_TOKEN": "tok-123"}
    assert provider.key.startswith(f"{provider.gpu.modal}-")
    assert "tok-123" not in provider.key


def test_unknown_gpu_type_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown GPU type 'V100'.*T4, L4, A10G.*H200, B200"):
        providers.ModalProvider("V100")


def test_no_modal_credentials_is_a_clear_error(tmp_path):
    env = {
        "HOME": str(tmp_path),
        "MODAL_CONFIG_PATH": str(tmp_path / "no-modal.toml"),
        "MODAL_TOKEN_ID": "",
        "MODAL_TOKEN_SECRET": "",
    }
    out = run_python(
        """
        import torch_remote
        try:
            torch_remote.connect(provider="modal", gpu="H100")
        except torch_remote.providers.ProviderError as e:
            print("error:", e)
        """,
        env=env,
    )
    assert "error: no Modal credentials: run `modal setup`" in out.stdout, out.stderr
    # The same from the environment, at import.
    out = run_python(
        "import torch_remote",
        env={**env, "TORCH_REMOTE_PROVIDER": "modal", "TORCH_REMOTE_GPU": "H100"},
    )
    assert out.returncode != 0
    assert "no Modal credentials" in out.stderr


# --- The container's entrypoint, run here ---------------------------------------------------

CLIENT = """
import os, sys, time
import torch, torch_remote
from torch_remote import providers


class FileLaunch:
    # The local stand-in for the Modal Dict and the spawned call: the container (a process
    # here) publishes its URL in a file; it has failed when its process is gone.
    def __init__(self, path, pid):
        self.path, self.pid = path, pid

    def published(self):
        return open(self.path).read() if os.path.exists(self.path) else None

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return open(f"/proc/{{self.pid}}/stat").read().split()[2] != "Z"
        except OSError:
            return False

    def check(self):
        if not self.alive():
            raise providers.ContainerFailed("the container stopped before its host was reachable")

    def cancel(self):
        pass


class LocalContainer(providers.ModalProvider):
    def _launch(self):
        return FileLaunch({publish!r}, {pid})


endpoint = torch_remote.connect(
    provider=LocalContainer("T4", token={token!r}, idle_timeout={idle}, startup_timeout=60)
)
print("endpoint:", endpoint.url)
x = torch.randn(3, 3, device="remote")
y = torch.randn(3, 3, device="remote")
print(x + y)
assert torch.equal((x + y).cpu(), x.cpu() + y.cpu())
z = x.to("remote", dtype=torch.float64, copy=True)
assert z.dtype == torch.float64 and z.device.type == "remote"
assert torch.equal(z.cpu(), x.cpu().double())
print("device:", torch.remote.get_device_name())
first = list(torch_remote._active)
again = torch_remote.connect(
    provider=LocalContainer("t4", token={token!r}, idle_timeout={idle}, startup_timeout=60)
)
assert again == endpoint and torch_remote._active[0] is first[0]  # the running host, reused
assert torch.ones(2, device="remote").sum().item() == 2.0
print("client done")
"""


def start_container(tmp_path, token: str | None, idle: int):
    """The container's entrypoint on this machine: ``run_host`` as ``serve`` runs it, with
    the no-op forwarder, the host found on PATH as in the image."""
    publish = tmp_path / "url"
    env = {**os.environ, "PATH": f"{Path(torch_remote.host_program()).parent}:{os.environ['PATH']}"}
    env.pop("TORCH_REMOTE_TOKEN", None)
    if token:
        env["TORCH_REMOTE_TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, str(APP_FILE), "--local", "--idle-timeout", str(idle)]
        + ["--publish-file", str(publish)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    return proc, publish


def test_the_container_entrypoint_serves_a_client_then_idles_out(tmp_path, app_module):
    token = "modal-local-token-0123456789"
    idle = 4
    proc, publish = start_container(tmp_path, token, idle)
    try:
        out = run_python(CLIENT.format(publish=str(publish), pid=proc.pid, token=token, idle=idle))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "endpoint: tcp://127.0.0.1:" in out.stdout
        assert "tensor([[" in out.stdout and "client done" in out.stdout
        assert "connected: remote:0 is" in out.stderr  # start-up progress
        # No client now: the host stops after its idle timeout, and the container with it.
        started = time.monotonic()
        log, _ = proc.communicate(timeout=idle + 30)
        waited = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, log
    assert waited < idle + 30
    assert app_module.host_command(idle)[1:] == ["--listen", "0.0.0.0:0", "--device", "auto"] + [
        "--idle-timeout",
        str(idle),
    ]
    assert (
        f"starting torch-remote-host --listen 0.0.0.0:0 --device auto --idle-timeout {idle}" in log
    )
    assert "serving at tcp://127.0.0.1:" in log
    assert "host stopped (exit status 0)" in log


def test_a_container_nobody_uses_stops_by_itself(tmp_path):
    proc, publish = start_container(tmp_path, "unused-token-0123456789", 2)
    try:
        log, _ = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, log
    assert publish.read_text().startswith("tcp://127.0.0.1:")
    assert "host stopped (exit status 0)" in log


def test_a_failed_container_is_reported(tmp_path):
    """No token in the container: it fails before publishing, and the client says so."""
    proc, publish = start_container(tmp_path, None, 5)
    out = run_python(CLIENT.format(publish=str(publish), pid=proc.pid, token="x", idle=5))
    log, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "no TORCH_REMOTE_TOKEN in the container" in log
    assert "ContainerFailed: the container stopped before its host was reachable" in out.stderr


def test_run_host_reports_a_host_that_does_not_start(app_module):
    lines = []
    with pytest.raises(RuntimeError, match="torch-remote-host did not start"):
        app_module.run_host(
            forward=app_module.no_forward,
            publish=lines.append,
            idle_timeout=5,
            program=shutil.which("false"),
            env={"TORCH_REMOTE_TOKEN": "t"},
            log=lines.append,
        )
    assert not any(line.startswith("tcp://") for line in lines)


def test_the_host_links_cuda_libtorch_when_the_wheel_has_it(app_module):
    """On a GPU machine `--device auto` needs libtorch_cuda loaded, though nothing calls it."""
    import torch

    wheel_has_cuda = (Path(torch.__file__).parent / "lib" / "libtorch_cuda.so").exists()
    needed = subprocess.run(
        ["readelf", "-d", torch_remote.host_program()], capture_output=True, text=True, check=True
    ).stdout
    assert ("libtorch_cuda.so" in needed) == wheel_has_cuda
    env = app_module.host_env({"TORCH_REMOTE_TOKEN": "t"})
    assert env["TORCH_REMOTE_LOG"] == "info"


def test_the_wait_gives_up_with_a_clear_error():
    class Never:
        cancelled = False

        def published(self):
            return None

        def check(self):
            pass

        def alive(self):
            return True

        def cancel(self):
            self.cancelled = True

    never = Never()
    with pytest.raises(TimeoutError, match="the H100 host was not reachable after 1 s"):
        providers.wait_for_url(never, timeout=1, what="the H100 host", poll=0.1, verbose=False)
    assert never.cancelled


# --- TLS ------------------------------------------------------------------------------------

TLS_CLIENT = """
import time, torch, torch_remote
torch_remote.connect({url!r}, {token!r})
started = time.monotonic()
try:
    x = torch.randn(3, 3, device="remote")
    y = torch.randn(3, 3, device="remote")
    print(x + y)
    print("ok", torch.equal((x + y).cpu(), x.cpu() + y.cpu()))
except RuntimeError as e:
    print("error:", e)
print("took", time.monotonic() - started)
"""


def took(stdout: str) -> float:
    return float(stdout.rsplit("took", 1)[1])


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1", "tls://127.0.0.1", "tcp://:7077", "tls://127.0.0.1:0", "tcp://h:1/x"],
)
def test_bad_urls_are_refused_at_connect(url):
    with pytest.raises(RuntimeError, match="bad host URL .*tcp://host:port.*tls://host:port"):
        torch_remote.connect(url, "token")
    torch_remote.connect()


def test_tls_to_a_plain_tcp_host_fails_clearly(host_process):
    address, token, _ = host_process
    out = run_python(TLS_CLIENT.format(url=f"tls://{address}", token=token))
    assert f"error: the TLS handshake with tls://{address} failed" in out.stdout, out.stderr
    assert "use tcp:// instead of tls://" in out.stdout
    assert took(out.stdout) < 10


def test_tls_to_a_silent_server_times_out():
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        out = run_python(
            TLS_CLIENT.format(url=f"tls://127.0.0.1:{port}", token="t"),
            env={"TORCH_REMOTE_CONNECT_TIMEOUT": "1"},
        )
    finally:
        server.close()
        for conn, _ in accepted:
            conn.close()
    assert "error: the TLS handshake" in out.stdout, out.stderr
    assert "no answer within the connect timeout" in out.stdout
    assert took(out.stdout) < 10


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    ca_key, ca, key, csr, cert, ext = (
        directory / n for n in ["ca.key", "ca.pem", "key.pem", "req.csr", "cert.pem", "ext.cnf"]
    )
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    for command in [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca]
        + ["-days", "2", "-subj", "/CN=torch-remote test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr]
        + ["-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial"]
        + ["-out", cert, "-days", "2", "-extfile", ext],
    ]:
        subprocess.run([openssl, *map(str, command)], check=True, capture_output=True)
    return ca, cert, key


class TlsTerminator:
    """What Modal's tunnel does: TLS outside, plain TCP to the host's port inside."""

    def __init__(self, cert: Path, key: Path, target: tuple[str, int]):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        try:
            outside = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        inside = socket.create_connection(self.target)

        def pump(src, dst):
            try:
                while data := src.recv(1 << 16):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pump, args=(inside, outside), daemon=True)
        back.start()
        pump(outside, inside)
        back.join()
        outside.close()
        inside.close()

    def close(self):
        self.server.close()


def test_tls_round_trip_through_a_terminator(tmp_path, host_process):
    address, token, _ = host_process
    host, port = address.rsplit(":", 1)
    ca, cert, key = make_certificates(tmp_path)
    terminator = TlsTerminator(cert, key, (host, int(port)))
    try:
        url = f"tls://127.0.0.1:{terminator.port}"
        out = run_python(
            TLS_CLIENT.format(url=url, token=token), env={"TORCH_REMOTE_TLS_CA": str(ca)}
        )
        assert "ok True" in out.stdout, out.stdout + out.stderr
        # Without the CA the certificate is not trusted: a clear error, not a hang.
        out = run_python(TLS_CLIENT.format(url=url, token=token))
        assert f"error: the TLS handshake with {url} failed" in out.stdout, out.stderr
        assert "UnknownIssuer" in out.stdout
        # The right certificate and the wrong token: refused.
        out = run_python(
            TLS_CLIENT.format(url=url, token="wrong"), env={"TORCH_REMOTE_TLS_CA": str(ca)}
        )
        assert "refused" in out.stdout, out.stderr
    finally:
        terminator.close()
