#!/usr/bin/env python3
"""Golden fixtures for NormCore, computed independently in float64 NumPy.

Implements torch.nn's BatchNorm/GroupNorm/LayerNorm/InstanceNorm semantics as written in
docs/normalization.md (biased variance to normalize, unbiased in running_var, momentum or
cumulative averaging) straight from the formulas, two-pass in float64. Cases with
variance = "unbiased" normalize as hand-written modules that call x.var() do (PyTorch's var is
unbiased by default): the partition's variance with ddof=1 divides the input; running statistics
move exactly as in the biased cases. Inputs are drawn with
fixed seeds, cast to the case's dtype, and the reference runs on the cast values.

Writes golden.json (the cases) and golden.bin (inputs in their dtype, expected outputs as
float64, both in the payload's memory layout). Rerun: python3 generate_golden.py
"""
import json
import os

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
SHAPES = {2: [6, 4], 3: [3, 4, 7], 4: [2, 6, 3, 5], 5: [2, 4, 2, 3, 3]}


def partition_moments(kind, x, groups, ddof=0):
    """Mean and variance (biased, or with ddof=1 unbiased) broadcastable to x's NCHW shape, per
    the kind's partition."""
    n, c = x.shape[:2]
    if kind == "batch":
        axes = (0,) + tuple(range(2, x.ndim))
        return x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)
    if kind == "instance":
        axes = tuple(range(2, x.ndim))
        return x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=ddof)
    if kind == "group":
        g = x.reshape(n, groups, -1)
        mean = np.repeat(g.mean(axis=2), c // groups, axis=1)
        var = np.repeat(g.var(axis=2, ddof=ddof), c // groups, axis=1)
        extra = (1,) * (x.ndim - 2)
        return mean.reshape((n, c) + extra), var.reshape((n, c) + extra)
    flat = x.reshape(n, -1)
    extra = (1,) * (x.ndim - 1)
    return flat.mean(axis=1).reshape((n,) + extra), flat.var(axis=1, ddof=ddof).reshape((n,) + extra)


def apply_affine(xhat, weight, bias):
    if weight is None:
        return xhat
    w = np.asarray(weight, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    if w.size == xhat.shape[1]:
        shape = (1, -1) + (1,) * (xhat.ndim - 2)
        return xhat * w.reshape(shape) + b.reshape(shape)
    return xhat * w.reshape((1,) + xhat.shape[1:]) + b.reshape((1,) + xhat.shape[1:])


class Reference:
    def __init__(self, kind, channels, groups, eps, momentum, track, weight, bias, variance="biased"):
        self.kind, self.groups, self.eps, self.momentum = kind, groups, eps, momentum
        self.ddof = 1 if variance == "unbiased" else 0
        self.track = kind == "batch" or (kind == "instance" and track)
        self.weight, self.bias = weight, bias
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self.batches = 0

    def step(self, x, mode):
        spatial_axes = tuple(range(2, x.ndim))
        use_running = mode == "eval" and self.track
        if use_running:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean, var = self.running_mean.reshape(shape), self.running_var.reshape(shape)
        else:
            mean, var = partition_moments(self.kind, x, self.groups, self.ddof)
        y = apply_affine((x - mean) / np.sqrt(var + self.eps), self.weight, self.bias)
        if mode == "train" and self.track:
            self.batches += 1
            m = 1.0 / self.batches if self.momentum == "cumulative" else self.momentum
            if self.kind == "batch":
                count = x.size // x.shape[1]
                axes = (0,) + spatial_axes
                batch_mean = x.mean(axis=axes)
                batch_var = x.var(axis=axes) * count / (count - 1)
            else:
                s = int(np.prod(x.shape[2:]))
                batch_mean = x.mean(axis=spatial_axes).mean(axis=0)
                batch_var = (x.var(axis=spatial_axes) * s / (s - 1)).mean(axis=0)
            self.running_mean = (1 - m) * self.running_mean + m * batch_mean
            self.running_var = (1 - m) * self.running_var + m * batch_var
        return y


def to_memory(a, layout):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1)) if layout == "NHWC" else np.ascontiguousarray(a)


class Writer:
    def __init__(self):
        self.blob = bytearray()
        self.cases = []

    def add(self, data):
        offset = len(self.blob)
        self.blob += data
        return [offset, len(data)]

    def case(self, name, kind, dtype="float32", out_dtype=None, layout="NCHW", rank=4, shape=None,
             groups=1, eps=1e-5, momentum=0.1, track=False, affine="none", loc=0.0, scale=1.0,
             train_steps=5, seed=0, variance="biased"):
        rng = np.random.default_rng(seed)
        shape = shape or SHAPES[rank]
        channels = shape[1]
        out_dtype = out_dtype or dtype
        weight = bias = None
        if affine == "channel":
            weight = rng.uniform(0.5, 1.5, channels).astype(np.float32).tolist()
            bias = rng.uniform(-0.5, 0.5, channels).astype(np.float32).tolist()
        elif affine == "full":
            weight = rng.uniform(0.5, 1.5, int(np.prod(shape[1:]))).astype(np.float32).tolist()
            bias = rng.uniform(-0.5, 0.5, int(np.prod(shape[1:]))).astype(np.float32).tolist()
        ref = Reference(kind, channels, groups, eps, momentum, track, weight, bias, variance)
        steps = []
        for i, mode in enumerate(["train"] * train_steps + ["eval"]):
            offset = loc + rng.normal(0, scale)  # each batch drifts a little, as streams do
            x = rng.normal(offset, scale, shape).astype(DTYPES[dtype])
            y = ref.step(x.astype(np.float64), mode)
            steps.append({
                "mode": mode,
                "input": self.add(to_memory(x, layout).tobytes()),
                "expected": self.add(to_memory(y, layout).astype(np.float64).tobytes()),
                "running_mean": ref.running_mean.tolist() if ref.track else None,
                "running_var": ref.running_var.tolist() if ref.track else None,
                "batches": ref.batches if ref.track else None,
            })
        case = {
            "name": name, "kind": kind, "dtype": dtype, "out_dtype": out_dtype, "layout": layout,
            "shape": shape, "groups": groups, "eps": eps, "momentum": momentum, "track": track,
            "weight": weight, "bias": bias, "steps": steps,
        }
        if variance != "biased":
            case["variance"] = variance
        self.cases.append(case)


def main():
    w = Writer()
    seed = 1
    kinds = [("batch", {}), ("group", {"groups": 2}), ("layer", {}), ("instance", {}),
             ("instance", {"track": True})]
    # Every kind, both layouts, every rank, float32, with and without affine.
    for kind, extra in kinds:
        for layout in ["NCHW", "NHWC"]:
            for rank in [2, 3, 4, 5]:
                if kind == "instance" and rank == 2:
                    continue  # one spatial element: too_few_values
                for affine in ["none", "channel"]:
                    name = f"{kind}{'-track' if extra.get('track') else ''}-{layout}-r{rank}-{affine}"
                    w.case(name, kind, layout=layout, rank=rank, affine=affine, seed=seed, **extra)
                    seed += 1
    # Every dtype, both layouts, rank 4, every kind; plus mixed output dtypes.
    for kind, extra in kinds:
        for dtype in ["float64", "float16", "bfloat16"]:
            for layout in ["NCHW", "NHWC"]:
                w.case(f"{kind}{'-track' if extra.get('track') else ''}-{dtype}-{layout}", kind, dtype=dtype,
                       layout=layout, affine="channel", seed=seed, **extra)
                seed += 1
    for dtype, out in [("float32", "float16"), ("float16", "float32"), ("bfloat16", "float32"),
                       ("float32", "float64"), ("float64", "float32"), ("float32", "bfloat16")]:
        w.case(f"batch-{dtype}-to-{out}", "batch", dtype=dtype, out_dtype=out, seed=seed)
        seed += 1
    # Cumulative momentum and other momentum / eps values.
    w.case("batch-cumulative", "batch", momentum="cumulative", train_steps=6, seed=seed); seed += 1
    w.case("batch-cumulative-NHWC", "batch", momentum="cumulative", layout="NHWC", seed=seed); seed += 1
    w.case("instance-track-cumulative", "instance", track=True, momentum="cumulative", seed=seed); seed += 1
    w.case("batch-momentum-0.3-eps-1e-3", "batch", momentum=0.3, eps=1e-3, affine="channel", seed=seed); seed += 1
    # Group extremes: G = C is instance, G = 1 is layer.
    w.case("group-G-equals-C", "group", groups=6, seed=seed); seed += 1
    w.case("group-G-1-NHWC", "group", groups=1, layout="NHWC", seed=seed); seed += 1
    w.case("group-G2-NHWC-r5", "group", groups=2, rank=5, layout="NHWC", affine="channel", seed=seed); seed += 1
    # Layer with a full [C, *S] affine, both layouts.
    for layout in ["NCHW", "NHWC"]:
        w.case(f"layer-full-affine-{layout}", "layer", affine="full", layout=layout, seed=seed); seed += 1
    # Large offsets against the spread: a naive float32 E[x^2] - E[x]^2 fails these.
    for kind, extra in kinds:
        for dtype in ["float32", "float64"]:
            for loc, scale in [(1e4, 1.0), (1e3, 0.05)]:
                for layout in ["NCHW", "NHWC"]:
                    w.case(f"{kind}{'-track' if extra.get('track') else ''}-offset-{loc:g}-{scale:g}-{dtype}-{layout}",
                           kind, dtype=dtype, layout=layout, loc=loc, scale=scale, shape=[4, 4, 8, 8], seed=seed, **extra)
                    seed += 1
    # Channel counts that are not a multiple of the SIMD width, long runs.
    w.case("batch-C13-NHWC", "batch", shape=[3, 13, 5, 7], layout="NHWC", affine="channel", seed=seed); seed += 1
    w.case("batch-long-runs", "batch", shape=[2, 3, 37, 41], seed=seed); seed += 1
    w.case("layer-N1", "layer", shape=[1, 5, 33, 9], seed=seed); seed += 1
    # Mixed output dtypes for the per-sample kinds: NCHW takes the one-visit (fused) kernel.
    for kind, extra, dtype, out, layout in [
            ("group", {"groups": 2}, "float32", "float16", "NCHW"),
            ("layer", {}, "float16", "float32", "NCHW"),
            ("instance", {}, "bfloat16", "float64", "NCHW"),
            ("instance", {"track": True}, "float64", "float32", "NCHW"),
            ("group", {"groups": 3}, "float64", "bfloat16", "NHWC"),
            ("layer", {}, "float32", "float64", "NHWC")]:
        w.case(f"{kind}{'-track' if extra.get('track') else ''}-{dtype}-to-{out}-{layout}", kind, dtype=dtype,
               out_dtype=out, layout=layout, affine="channel", seed=seed, **extra)
        seed += 1

    # variance = "unbiased": every kind, both layouts, ranks 2-5, with and without affine; other
    # dtypes; a full layer affine; mixed output dtypes through the one-visit kernel.
    for kind, extra in kinds:
        for layout in ["NCHW", "NHWC"]:
            for rank in [2, 3, 4, 5]:
                if kind == "instance" and rank == 2:
                    continue
                affine = "channel" if rank % 2 else "none"
                name = f"unbiased-{kind}{'-track' if extra.get('track') else ''}-{layout}-r{rank}-{affine}"
                w.case(name, kind, layout=layout, rank=rank, affine=affine, seed=seed, variance="unbiased", **extra)
                seed += 1
        for dtype in ["float64", "float16", "bfloat16"]:
            w.case(f"unbiased-{kind}{'-track' if extra.get('track') else ''}-{dtype}", kind, dtype=dtype, affine="channel",
                   seed=seed, variance="unbiased", **extra)
            seed += 1
    for layout in ["NCHW", "NHWC"]:
        w.case(f"unbiased-layer-full-affine-{layout}", "layer", affine="full", layout=layout, seed=seed, variance="unbiased"); seed += 1
    w.case("unbiased-group-f32-to-f16", "group", groups=2, out_dtype="float16", seed=seed, variance="unbiased"); seed += 1
    w.case("unbiased-batch-cumulative-offset", "batch", momentum="cumulative", loc=1e4, scale=1.0, shape=[4, 4, 8, 8],
           seed=seed, variance="unbiased"); seed += 1
    # BatchNorm training in blocks of neighbouring channels (FusedBatchKernel): 8 KiB runs, blocks of
    # two channels, eight blocks; an offset mean and a per-channel affine.
    w.case("batch-fused-blocks", "batch", shape=[2, 16, 2048], affine="channel", loc=1e3, scale=1.0, train_steps=1,
           seed=seed); seed += 1

    with open(os.path.join(HERE, "golden.bin"), "wb") as f:
        f.write(w.blob)
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump({"generator": "generate_golden.py", "cases": w.cases}, f)
    print(f"{len(w.cases)} cases, {len(w.blob)} bytes")


if __name__ == "__main__":
    main()
