"""A connection without the right token gets nothing; no input crashes the host."""

import socket
import struct

from conftest import run_python

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
