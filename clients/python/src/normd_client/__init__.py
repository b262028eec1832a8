"""A client for normd: send NumPy arrays or torch tensors to a pipeline, receive them normalized.

    from normd_client import NormdClient
    with NormdClient("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556") as client:
        client.send("cam0", batch)                      # [N, C, ...] array or tensor
        key, header, normalized = client.receive(timeout=5)
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import zmq

from ._sockets import open_sockets
from ._wire import Batch, decode, encode

__all__ = ["NormdClient", "Batch"]
__version__ = "0.3.0"


class NormdClient:
    """A PUSH socket connected to a pipeline's input, and a PULL (or SUB) socket to its output."""

    def __init__(self, input: str, output: str, *, context: Optional[zmq.Context] = None,
                 output_socket: str = "pull", topics: Sequence[str] = ("",),
                 server_key: Optional[str] = None, certificate: Optional[str] = None,
                 public_key: Optional[str] = None, secret_key: Optional[str] = None) -> None:
        self.context = context or zmq.Context.instance()
        curve = dict(server_key=server_key, certificate=certificate, public_key=public_key, secret_key=secret_key)
        self.push, self.receiver = open_sockets(self.context, input, output, output_socket, topics, curve)

    def __enter__(self) -> "NormdClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def send(self, key: str, array: Any, layout: str = "NCHW", **extra: Any) -> None:
        """Sends ``array`` ([N, C, ...spatial], or channels last with layout="NHWC"); ``extra``
        fields (``seq=...``) come back in the output header."""
        self.push.send_multipart(encode(key, array, layout, extra), copy=False)

    def receive(self, timeout: Optional[float] = None, as_torch: bool = False) -> Batch:
        """The next normalized batch as ``Batch(key, header, array)``, shaped as it was sent and
        writable; raises ``TimeoutError`` when none arrives within ``timeout`` seconds."""
        if timeout is not None and not self.receiver.poll(int(timeout * 1000)):
            raise TimeoutError(f"no batch from normd within {timeout} s")
        return decode(self.receiver.recv_multipart(), as_torch=as_torch)

    def close(self) -> None:
        self.push.close()
        self.receiver.close()
