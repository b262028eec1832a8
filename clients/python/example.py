#!/usr/bin/env python3
"""Sends a few batches through a running normd BatchNorm pipeline and checks each output
against PyTorch's formula computed here in float64 NumPy.

    pip install ./clients/python && python3 example.py [--input tcp://127.0.0.1:5555] [--output tcp://127.0.0.1:5556]

Exits 0 when every batch matches within 1e-5, 1 otherwise.
"""
import argparse
import sys

import numpy as np

from normd_client import NormdClient


def batch_norm_train(x, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    x = x.astype(np.float64)
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="tcp://127.0.0.1:5555")
    parser.add_argument("--output", default="tcp://127.0.0.1:5556")
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    worst = 0.0
    with NormdClient(args.input, args.output) as client:
        for seq in range(args.batches):
            x = rng.normal(5.0, 2.0, (8, 16, 12, 12)).astype(np.float32)
            client.send("cam0", x, seq=seq)
            key, header, y = client.receive(timeout=10)
            error = float(np.abs(y - batch_norm_train(x)).max())
            worst = max(worst, error)
            print(f"{key} seq={header['seq']} norm={header['norm']} max|y - torch| = {error:.2e}")
    if worst > 1e-5:
        print(f"FAILED: worst error {worst:.2e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
