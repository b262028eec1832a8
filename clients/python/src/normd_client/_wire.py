"""Wire format v1: three frames — key, JSON header, raw little-endian C-contiguous payload."""
from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple, Tuple

import numpy as np

DTYPES = ("float32", "float64", "float16", "bfloat16")


class Batch(NamedTuple):
    """One normalized batch: unpacks as ``key, header, array``."""

    key: str
    header: Dict[str, Any]
    array: Any


def numpy_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes  # optional: pip install normd-client[bfloat16]

        return ml_dtypes.bfloat16
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}")
    return np.dtype(name)


def _is_torch(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "torch"


def encode(key: str, array: Any, layout: str, extra: Dict[str, Any]) -> List[Any]:
    """The three frames for ``array`` (NumPy or torch, [N, C, ...] or channels last with NHWC)."""
    if layout not in ("NCHW", "NHWC"):
        raise ValueError("layout is 'NCHW' or 'NHWC'")
    if _is_torch(array):
        import torch

        tensor = array.detach().cpu().contiguous()
        if tensor.dtype == torch.bfloat16:
            name, payload = "bfloat16", tensor.view(torch.int16).numpy()
        else:
            payload = tensor.numpy()
            name = payload.dtype.name
        dims = list(tensor.shape)
    else:
        payload = np.ascontiguousarray(array)
        name = payload.dtype.name
        dims = list(payload.shape)
    if name not in DTYPES:
        raise TypeError(f"normd takes float32, float64, float16 or bfloat16 tensors, not {name}")
    if not 2 <= len(dims) <= 5:
        raise ValueError(f"a batch has 2 to 5 dimensions, not {len(dims)}")
    shape = dims if layout == "NCHW" else [dims[0], dims[-1], *dims[1:-1]]
    header: Dict[str, Any] = {"dtype": name, "shape": shape, **extra}
    if layout != "NCHW":
        header["layout"] = layout
    # As bytes without a copy (bfloat16 and float16 have no buffer-protocol format of their own).
    return [key.encode(), json.dumps(header).encode(), payload.reshape(-1).view(np.uint8)]


def decode(frames: List[bytes], as_torch: bool = False) -> Batch:
    """A received message as a ``Batch`` whose array is writable and shaped as it was sent."""
    if len(frames) != 3:
        raise ValueError(f"expected 3 frames, got {len(frames)}")
    key, raw_header, payload = frames
    header = json.loads(raw_header)
    n, c, *spatial = header["shape"]
    shape: Tuple[int, ...] = tuple([n, *spatial, c] if header.get("layout") == "NHWC" else [n, c, *spatial])
    if as_torch:
        import torch

        if header["dtype"] == "bfloat16":  # through int16: torch needs no ml_dtypes for it
            bits = np.frombuffer(bytearray(payload), dtype=np.int16).reshape(shape)
            return Batch(key.decode(), header, torch.from_numpy(bits).view(torch.bfloat16))
        return Batch(key.decode(), header, torch.from_numpy(np.frombuffer(bytearray(payload), dtype=header["dtype"]).reshape(shape)))
    array = np.frombuffer(bytearray(payload), dtype=numpy_dtype(header["dtype"])).reshape(shape)
    return Batch(key.decode(), header, array)
