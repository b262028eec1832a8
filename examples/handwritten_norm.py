#!/usr/bin/env python3
"""normd with variance = "unbiased" reproduces hand-written normalization modules.

Many models were trained with BatchNorm/GroupNorm modules written by hand from tutorials, which
normalize with x.var() — unbiased in PyTorch. This script defines two such modules, "trains"
them (random affine weights, a few training steps for the running statistics), exports their
weights with safetensors, starts normd with `variance = "unbiased"` and `init` pointing at those
files, and checks normd's outputs against the modules' own in train and eval mode.

    python3 examples/handwritten_norm.py --normd .build/release/normd            # the torch modules
    python3 examples/handwritten_norm.py --normd .build/release/normd --numpy    # their formulas in NumPy (CI)

Needs numpy, pyzmq and safetensors (and torch without --numpy). Exits 0 when every output matches.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python", "src"))
from normd_client import NormdClient  # noqa: E402

C, G, EPS, MOMENTUM = 8, 4, 1e-5, 0.1


def torch_modules():
    import torch
    from torch import nn

    class HandBatchNorm2d(nn.Module):
        """A tutorial's BatchNorm: x.var() (unbiased) normalizes; running statistics as usual."""

        def __init__(self, channels):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
            self.register_buffer("running_mean", torch.zeros(channels))
            self.register_buffer("running_var", torch.ones(channels))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

        def forward(self, x):
            if self.training:
                mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3))
                with torch.no_grad():
                    self.running_mean.mul_(1 - MOMENTUM).add_(MOMENTUM * mean)
                    self.running_var.mul_(1 - MOMENTUM).add_(MOMENTUM * var)
                    self.num_batches_tracked += 1
            else:
                mean, var = self.running_mean, self.running_var
            shape = (1, -1, 1, 1)
            return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + EPS) * self.weight.view(shape) + self.bias.view(shape)

    class HandGroupNorm(nn.Module):
        """A tutorial's GroupNorm: per sample and group, x.var() (unbiased)."""

        def __init__(self, groups, channels):
            super().__init__()
            self.groups = groups
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

        def forward(self, x):
            n = x.shape[0]
            g = x.reshape(n, self.groups, -1)
            y = ((g - g.mean(-1, keepdim=True)) / torch.sqrt(g.var(-1, keepdim=True) + EPS)).reshape(x.shape)
            return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def run(module, x, train):
        module.train(train)
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy().astype(np.float64)

    def state(module):
        return {k: v.detach().numpy() for k, v in module.state_dict().items()}

    torch.manual_seed(0)
    bn, gn = HandBatchNorm2d(C), HandGroupNorm(G, C)
    for m in (bn, gn):
        with torch.no_grad():
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
    return bn, gn, run, state


def numpy_modules():
    """The same two modules' formulas restated in NumPy (ddof=1 is x.var()'s unbiased default)."""

    class HandBatchNorm2d:
        def __init__(self, rng):
            self.weight = rng.uniform(0.5, 1.5, C).astype(np.float32)
            self.bias = rng.uniform(-0.5, 0.5, C).astype(np.float32)
            self.running_mean, self.running_var = np.zeros(C, np.float32), np.ones(C, np.float32)
            self.num_batches_tracked = np.int64(0)

        def forward(self, x, train):
            x = x.astype(np.float64)
            if train:
                mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)
                self.running_mean = ((1 - MOMENTUM) * self.running_mean + MOMENTUM * mean).astype(np.float32)
                self.running_var = ((1 - MOMENTUM) * self.running_var + MOMENTUM * var).astype(np.float32)
                self.num_batches_tracked += 1
            else:
                mean, var = self.running_mean.astype(np.float64), self.running_var.astype(np.float64)
            s = (1, -1, 1, 1)
            return (x - mean.reshape(s)) / np.sqrt(var.reshape(s) + EPS) * self.weight.reshape(s) + self.bias.reshape(s)

        def state(self):
            return {"weight": self.weight, "bias": self.bias, "running_mean": self.running_mean,
                    "running_var": self.running_var, "num_batches_tracked": np.array(self.num_batches_tracked)}

    class HandGroupNorm:
        def __init__(self, rng):
            self.weight = rng.uniform(0.5, 1.5, C).astype(np.float32)
            self.bias = rng.uniform(-0.5, 0.5, C).astype(np.float32)

        def forward(self, x, train):
            x = x.astype(np.float64)
            g = x.reshape(x.shape[0], G, -1)
            y = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True, ddof=1) + EPS)).reshape(x.shape)
            return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)

        def state(self):
            return {"weight": self.weight, "bias": self.bias}

    rng = np.random.default_rng(0)
    bn, gn = HandBatchNorm2d(rng), HandGroupNorm(rng)
    return bn, gn, lambda m, x, train: m.forward(x, train), lambda m: m.state()


def start_normd(binary, folder, pipelines):
    config = os.path.join(folder, "normd.toml")
    with open(config, "w") as f:
        f.write(f'[daemon]\ncontrol_socket = "{folder}/ctl.sock"\nstate_dir = "{folder}/state"\n\n' + pipelines)
    process = subprocess.Popen([binary, "run", "--config", config], stderr=open(os.path.join(folder, "normd.log"), "w"))
    for _ in range(500):
        if subprocess.run([binary, "ctl", "--socket", f"{folder}/ctl.sock", "stats"], capture_output=True).returncode == 0:
            return process
        if process.poll() is not None:
            break
        time.sleep(0.02)
    sys.exit("normd did not start:\n" + open(os.path.join(folder, "normd.log")).read())


def pipeline(name, folder, norm):
    return (f'[[pipeline]]\nname = "{name}"\n[pipeline.input]\nbind = ["ipc://{folder}/{name}.in"]\n'
            f'[pipeline.output]\nbind = ["ipc://{folder}/{name}.out"]\n[pipeline.norm]\n{norm}\n\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normd", default="normd")
    parser.add_argument("--numpy", action="store_true", help="restate the modules in NumPy instead of running torch")
    args = parser.parse_args()
    bn, gn, run, state = numpy_modules() if args.numpy else torch_modules()
    rng = np.random.default_rng(1)
    batch = lambda: rng.normal(3.0, 2.0, (4, C, 5, 5)).astype(np.float32)

    for _ in range(5):  # "training": the running statistics move
        run(bn, batch(), True)
    from safetensors.numpy import save_file

    with tempfile.TemporaryDirectory() as folder:
        save_file({k: np.ascontiguousarray(v) for k, v in state(bn).items()}, f"{folder}/bn.safetensors")
        save_file({k: np.ascontiguousarray(v) for k, v in state(gn).items()}, f"{folder}/gn.safetensors")
        common = f'channels = {C}\nvariance = "unbiased"'
        normd = start_normd(args.normd, folder, pipeline("bn_eval", folder, f'kind = "batch"\nmode = "eval"\ninit = "{folder}/bn.safetensors"\n{common}')
                            + pipeline("bn_train", folder, f'kind = "batch"\ninit = "{folder}/bn.safetensors"\n{common}')
                            + pipeline("gn", folder, f'kind = "group"\ngroups = {G}\ninit = "{folder}/gn.safetensors"\n{common}'))
        worst = 0.0
        try:
            for name, module, train in (("bn_eval", bn, False), ("gn", gn, True), ("bn_train", bn, True)):
                with NormdClient(f"ipc://{folder}/{name}.in", f"ipc://{folder}/{name}.out") as client:
                    for step in range(3):
                        x = batch()
                        client.send("model", x)
                        _, header, y = client.receive(timeout=10)
                        error = float(np.abs(y - run(module, x, train)).max())
                        worst = max(worst, error)
                        print(f"{name} step {step}: {header['norm']} max |normd - module| = {error:.2e}")
        finally:
            normd.send_signal(signal.SIGTERM)
            normd.wait(timeout=30)
    print("matches the hand-written modules" if worst <= 1e-4 else f"FAILED: worst error {worst:.2e}")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
