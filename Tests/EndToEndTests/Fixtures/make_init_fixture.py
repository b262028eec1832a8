#!/usr/bin/env python3
"""An `init` fixture shaped exactly like torch.nn.BatchNorm2d(4).state_dict() saved with
safetensors (weight, bias, running_mean, running_var as F32; num_batches_tracked as I64
scalar), written with the safetensors library itself, plus the eval-mode output a
trained BatchNorm2d gives for one input, computed in float64 NumPy from PyTorch's formula
y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.

Rerun: python3 make_init_fixture.py   (needs numpy and safetensors; torch is not needed)
"""
import json
import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(42)
C = 4
state = {
    "weight": rng.uniform(0.5, 2.0, C).astype(np.float32),
    "bias": rng.uniform(-1.0, 1.0, C).astype(np.float32),
    "running_mean": rng.normal(3.0, 1.0, C).astype(np.float32),
    "running_var": rng.uniform(0.5, 4.0, C).astype(np.float32),
    "num_batches_tracked": np.array(1234, dtype=np.int64),
}
save_file(state, os.path.join(HERE, "bn2d_init.safetensors"))

x = rng.normal(3.0, 2.0, (2, C, 3, 3)).astype(np.float32)
s = lambda v: v.astype(np.float64).reshape(1, C, 1, 1)
y = (x.astype(np.float64) - s(state["running_mean"])) / np.sqrt(s(state["running_var"]) + 1e-5) * s(state["weight"]) + s(state["bias"])
with open(os.path.join(HERE, "bn2d_init_expected.json"), "w") as f:
    json.dump({"shape": list(x.shape), "input": x.ravel().tolist(), "expected": y.ravel().tolist(),
               "running_mean": state["running_mean"].astype(np.float64).tolist(),
               "num_batches_tracked": 1234}, f)
print("wrote bn2d_init.safetensors and bn2d_init_expected.json")
