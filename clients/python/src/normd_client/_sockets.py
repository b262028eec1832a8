"""Socket setup shared by the blocking and the asyncio client."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import zmq


def configure_curve(socket: Any, server_key: Optional[str], certificate: Optional[str],
                    public_key: Optional[str], secret_key: Optional[str]) -> None:
    """Makes ``socket`` a CURVE client of a normd endpoint whose public key is ``server_key``."""
    if server_key is None:
        if certificate or public_key or secret_key:
            raise ValueError("CURVE needs server_key, normd's public key")
        return
    if certificate is not None:
        import zmq.auth

        public_key, secret_key = (k.decode() if isinstance(k, bytes) else k for k in zmq.auth.load_certificate(certificate))
    if not public_key or not secret_key:
        raise ValueError("CURVE needs this side's keys: certificate= or public_key= and secret_key=")
    socket.curve_serverkey = server_key.encode()
    socket.curve_publickey = public_key.encode()
    socket.curve_secretkey = secret_key.encode()


def open_sockets(context: Any, input_endpoint: str, output_endpoint: str, output_socket: str,
                 topics: Sequence[str], curve: dict) -> tuple:
    """A PUSH connected to the input, and a PULL (or SUB with ``topics``) connected to the output."""
    if output_socket not in ("pull", "sub"):
        raise ValueError("output_socket is 'pull' or 'sub'")
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    configure_curve(push, **curve)
    push.connect(input_endpoint)
    receiver = context.socket(zmq.SUB if output_socket == "sub" else zmq.PULL)
    receiver.setsockopt(zmq.LINGER, 0)
    configure_curve(receiver, **curve)
    if output_socket == "sub":
        for topic in topics:
            receiver.setsockopt(zmq.SUBSCRIBE, topic.encode())
    receiver.connect(output_endpoint)
    return push, receiver
