"""A small client for normd: send NumPy arrays to a pipeline, receive the normalized ones.

Wire format v1 (docs/wire-format.md): three frames — key, JSON header, raw little-endian
C-contiguous payload. Needs numpy and pyzmq; bfloat16 also needs ml_dtypes.

    from normd_client import NormdClient
    client = NormdClient("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556")
    client.send("cam0", batch)                 # batch: [N, C, ...] float32 array
    key, header, normalized = client.receive()
"""
import json

import numpy as np
import zmq

_DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def _numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes  # optional dependency, only for bfloat16
        return ml_dtypes.bfloat16
    return _DTYPES[name]


def _dtype_name(dtype):
    name = np.dtype(dtype).name
    if name not in ("float32", "float64", "float16", "bfloat16"):
        raise TypeError(f"normd takes float32, float64, float16 or bfloat16 arrays, not {name}")
    return name


class NormdClient:
    """A PUSH socket connected to a pipeline's input and a PULL socket to its output."""

    def __init__(self, input_endpoint, output_endpoint, context=None, timeout_ms=10000):
        self.context = context or zmq.Context.instance()
        self.push = self.context.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 1000)
        self.push.connect(input_endpoint)
        self.pull = self.context.socket(zmq.PULL)
        self.pull.setsockopt(zmq.RCVTIMEO, timeout_ms)
        self.pull.connect(output_endpoint)

    def send(self, key, array, layout="NCHW", **extra):
        """Sends `array` ([N, C, ...spatial], or channels last with layout="NHWC")."""
        array = np.ascontiguousarray(array)
        shape = list(array.shape) if layout == "NCHW" else [array.shape[0], array.shape[-1], *array.shape[1:-1]]
        header = {"dtype": _dtype_name(array.dtype), "shape": shape, **extra}
        if layout != "NCHW":
            header["layout"] = layout
        self.push.send_multipart([key.encode(), json.dumps(header).encode(), array.data], copy=False)

    def receive(self):
        """Returns (key, header, array) of the next normalized batch, shaped as it was sent."""
        key, header, payload = self.pull.recv_multipart()
        header = json.loads(header)
        array = np.frombuffer(payload, dtype=_numpy_dtype(header["dtype"]))
        n, c, *spatial = header["shape"]
        shape = [n, *spatial, c] if header.get("layout") == "NHWC" else [n, c, *spatial]
        return key.decode(), header, array.reshape(shape)

    def close(self):
        self.push.close()
        self.pull.close()
