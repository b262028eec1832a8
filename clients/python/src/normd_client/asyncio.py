"""The asyncio client: the same methods as ``NormdClient``, as coroutines (``zmq.asyncio``)."""
from __future__ import annotations

import asyncio
from typing import Any, Optional, Sequence

import zmq.asyncio

from ._sockets import open_sockets
from ._wire import Batch, decode, encode

__all__ = ["AsyncNormdClient"]


class AsyncNormdClient:
    def __init__(self, input: str, output: str, *, context: Optional[zmq.asyncio.Context] = None,
                 output_socket: str = "pull", topics: Sequence[str] = ("",),
                 server_key: Optional[str] = None, certificate: Optional[str] = None,
                 public_key: Optional[str] = None, secret_key: Optional[str] = None) -> None:
        self.context = context or zmq.asyncio.Context.instance()
        curve = dict(server_key=server_key, certificate=certificate, public_key=public_key, secret_key=secret_key)
        self.push, self.receiver = open_sockets(self.context, input, output, output_socket, topics, curve)

    async def __aenter__(self) -> "AsyncNormdClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    async def send(self, key: str, array: Any, layout: str = "NCHW", **extra: Any) -> None:
        await self.push.send_multipart(encode(key, array, layout, extra), copy=False)

    async def receive(self, timeout: Optional[float] = None, as_torch: bool = False) -> Batch:
        try:
            frames = await asyncio.wait_for(self.receiver.recv_multipart(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no batch from normd within {timeout} s") from None
        return decode(frames, as_torch=as_torch)

    def close(self) -> None:
        self.push.close()
        self.receiver.close()
