"""A connection without the right token gets nothing; no input crashes the host."""

import socket
import struct

from conftest import run_python, started_host

CLIENT = """
import torch, torch_remote
torch_remote.connect("tcp://{address}", {token!r})
try:
    print(torch.ones(3, device="remote").cpu())
except RuntimeError as e:
    print("refused:", e)
"""


def test_wrong_or_missing_token_is_refused(host_process):
    address, token, _ = host_process
    wrong = run_python(CLIENT.format(address=address, token="wrong-token"))
    assert "refused" in wrong.stdout, wrong.stderr
    empty = run_python(CLIENT.format(address=address, token=""))
    assert "refused" in empty.stdout, empty.stderr
    right = run_python(CLIENT.format(address=address, token=token))
    assert "tensor([1., 1., 1.])" in right.stdout, right.stderr


def test_garbage_does_not_crash_the_host(host_process):
    address, token, proc = host_process
    host, port = address.rsplit(":", 1)
    for junk in [
        b"",
        b"\xff" * 12,
        struct.pack("<IQ", 5, 0) + b"\x01\x02\x03\x04\x05",
        b"GET / HTTP/1.1\r\n\r\n",
    ]:
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            assert s.recv(1024) == b""
    assert proc.poll() is None
    right = run_python(CLIENT.format(address=address, token=token))
    assert "tensor([1., 1., 1.])" in right.stdout, right.stderr


def test_running_out_of_file_descriptors_does_not_stop_the_host():
    limit = 64
    with started_host(open_files=limit) as (address, token, proc):
        host, port = address.rsplit(":", 1)
        # Connections that never present a token hold the host's descriptors until it
        # closes them; past its limit, accepting fails.
        idle = [socket.create_connection((host, int(port))) for _ in range(2 * limit)]
        assert proc.poll() is None
        for s in idle:
            s.close()
        served = run_python(CLIENT.format(address=address, token=token))
        assert "tensor([1., 1., 1.])" in served.stdout, served.stderr
        assert proc.poll() is None


def test_new_memory_never_shows_another_clients_bytes(host_process):
    address, token, _ = host_process
    # Blocks of 1 MiB and more go back to the host's cache when freed.
    writer = """
    import torch, torch_remote
    torch_remote.connect("tcp://{address}", {token!r})
    x = torch.full((1 << 20,), 42.0, device="remote")
    x.cpu()
    del x
    torch.remote.synchronize()
    """
    reader = """
    import torch, torch_remote
    torch_remote.connect("tcp://{address}", {token!r})
    print("stale", int((torch.empty(1 << 20, device="remote").cpu() == 42).sum()))
    print("stale", int((torch.empty_like(torch.ones(1 << 20, device="remote")).cpu() == 42).sum()))
    """
    wrote = run_python(writer.format(address=address, token=token))
    assert wrote.returncode == 0, wrote.stderr
    read = run_python(reader.format(address=address, token=token))
    assert read.stdout.split() == ["stale", "0", "stale", "0"], read.stderr
