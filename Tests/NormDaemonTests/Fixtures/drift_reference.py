#!/usr/bin/env python3
"""Independent float64 NumPy reference for normd's drift score (docs/normalization.md, "Drift").

Writes drift_cases.json beside itself: batches of shape [4, 3, 16] (float32) for one key, the
mode each is sent in, and after each batch the expected smoothed worst-channel score, channel and
alarm. Running statistics follow torch.nn.BatchNorm (momentum 0.1, unbiased batch variance);
drift compares each batch with the running statistics it met, before its own update, once
those have seen WARMUP batches.

Run: python3 drift_reference.py   (NumPy only)
"""
import json
import math
import os

import numpy as np

EPS, MOMENTUM = 1e-5, 0.1
THRESHOLD, VARIANCE_THRESHOLD, SMOOTHING, WARMUP = 2.0, 0.4, 0.5, 20
N, C, S = 4, 3, 16

rng = np.random.default_rng(20261202)
batches, modes = [], []
for i in range(40):
    x = rng.normal(1.0, 2.0, size=(N, C, S)).astype(np.float32)
    if 24 <= i < 32:
        x[:, 1, :] += np.float32(6.0)  # a 3σ mean step on channel 1, in train mode
    if i >= 32:
        x[:, 0, :] = (x[:, 0, :] - np.float32(1.0)) * np.float32(math.sqrt(2.0)) + np.float32(1.0)  # variance doubled on channel 0, eval
    batches.append(x)
    modes.append("train" if i < 32 else "eval")

running_mean = np.zeros(C)
running_var = np.ones(C)
tracked = 0
shift_avg = np.zeros(C)
ratio_avg = np.zeros(C)
alarm = False
expected = []
for x, mode in zip(batches, modes):
    v = x.astype(np.float64)
    mean = v.mean(axis=(0, 2))
    var = v.var(axis=(0, 2), ddof=1)
    if tracked < WARMUP:  # not scored until the running statistics have seen WARMUP batches
        expected.append({"score": 0.0, "channel": 0, "alarm": False})
        if mode == "train":
            running_mean = (1 - MOMENTUM) * running_mean + MOMENTUM * mean
            running_var = (1 - MOMENTUM) * running_var + MOMENTUM * var
            tracked += 1
        continue
    shift = (mean - running_mean) / np.sqrt(running_var + EPS)
    ratio = np.log((var + EPS) / (running_var + EPS))
    shift_avg = (1 - SMOOTHING) * shift_avg + SMOOTHING * shift
    ratio_avg = (1 - SMOOTHING) * ratio_avg + SMOOTHING * ratio
    per_channel = np.maximum(np.abs(shift_avg), np.abs(ratio_avg) * THRESHOLD / VARIANCE_THRESHOLD)
    channel = int(np.argmax(per_channel))
    score = float(per_channel[channel])
    if alarm:
        alarm = score >= 0.75 * THRESHOLD
    else:
        alarm = score >= THRESHOLD
    expected.append({"score": score, "channel": channel, "alarm": bool(alarm)})
    if mode == "train":
        running_mean = (1 - MOMENTUM) * running_mean + MOMENTUM * mean
        running_var = (1 - MOMENTUM) * running_var + MOMENTUM * var
        tracked += 1

out = {
    "shape": [N, C, S],
    "settings": {"threshold": THRESHOLD, "variance_threshold": VARIANCE_THRESHOLD, "smoothing": SMOOTHING, "eps": EPS, "momentum": MOMENTUM, "warmup": WARMUP},
    "batches": [{"mode": m, "values": [float(f) for f in x.ravel()]} for x, m in zip(batches, modes)],
    "expected": expected,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "drift_cases.json"), "w") as f:
    json.dump(out, f)
print("\n".join(f"{i:2d} {m:5s} score {e['score']:.4f} channel {e['channel']} alarm {e['alarm']}" for i, (m, e) in enumerate(zip(modes, expected))))
