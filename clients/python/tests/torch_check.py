#!/usr/bin/env python3
"""The torch paths of the client, against a running normd (outside CI: torch stays out of it).

    pip install ./clients/python torch && python3 clients/python/tests/torch_check.py --input EP --output EP

Sends float32 and bfloat16 torch tensors and checks the outputs against torch.nn.BatchNorm2d in
train mode; exits 0 when they match.
"""
import argparse
import sys

import torch

from normd_client import NormdClient


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", default="tcp://127.0.0.1:5555")
    parser.add_argument("--output", default="tcp://127.0.0.1:5556")
    args = parser.parse_args()
    torch.manual_seed(0)
    with NormdClient(args.input, args.output) as client:
        for dtype, tolerance in ((torch.float32, 1e-5), (torch.bfloat16, 3e-2)):
            x = (torch.randn(8, 4, 6, 6) * 2 + 1).to(dtype)
            client.send(f"torch-{dtype}", x)
            _, header, y = client.receive(timeout=10, as_torch=True)
            expected = torch.nn.BatchNorm2d(4, affine=False).train()(x.float())
            error = (y.float() - expected).abs().max().item()
            print(f"{dtype}: received {y.dtype}, max error {error:.2e}")
            if y.dtype != dtype or error > tolerance:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
