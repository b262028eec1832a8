"""The client against a running normd, run by the repository's test suite (no torch needed).

Endpoints come from the environment the test sets: NORMD_PLAIN_IN/OUT, NORMD_CONTEXT_IN/OUT and
NORMD_ASYNC_IN/OUT (PULL → PUSH, BatchNorm per key), NORMD_PUB_IN/OUT (PULL → PUB),
NORMD_SECURE_IN/OUT (CURVE on tcp), NORMD_SERVER_KEY and NORMD_CLIENT_CERT.

Each client has a pipeline of its own, and the plain tests share one client: a PUSH output deals
batches round-robin to its connected consumers, and one that just closed may still be dealt one
until the daemon notices it left.
"""
import asyncio
import os
import unittest

import numpy as np

from normd_client import Batch, NormdClient
from normd_client.asyncio import AsyncNormdClient

ENV = os.environ


def batch_norm_train(x, eps=1e-5):
    """torch.nn.BatchNorm's train-mode output, in float64, channels on axis 1."""
    axes = (0,) + tuple(range(2, x.ndim))
    x = x.astype(np.float64)
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = NormdClient(ENV["NORMD_PLAIN_IN"], ENV["NORMD_PLAIN_OUT"])

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def test_round_trip_context_manager_and_writable_result(self):
        x = np.random.default_rng(1).normal(3, 2, (4, 3, 5, 5)).astype(np.float32)
        with NormdClient(ENV["NORMD_CONTEXT_IN"], ENV["NORMD_CONTEXT_OUT"]) as client:
            client.send("rt", x, seq=7, source="test")
            batch = client.receive(timeout=10)
        self.assertTrue(client.push.closed and client.receiver.closed, "leaving the with block closes the sockets")
        self.assertIsInstance(batch, Batch)
        key, header, y = batch
        self.assertEqual((key, header["seq"], header["source"], header["norm"]["kind"]), ("rt", 7, "test", "batch"))
        self.assertEqual(y.shape, x.shape)
        self.assertTrue(y.flags.writeable)
        y[0, 0, 0, 0] = 0  # a user may normalize further in place
        self.assertLess(float(np.abs(y[1:] - batch_norm_train(x)[1:]).max()), 1e-5)

    def test_channels_last(self):
        x = np.random.default_rng(2).normal(0, 1, (4, 5, 6, 3)).astype(np.float32)  # NHWC, C = 3
        self.client.send("nhwc", x, layout="NHWC")
        _, header, y = self.client.receive(timeout=10)
        self.assertEqual((header["layout"], header["shape"], y.shape), ("NHWC", [4, 3, 5, 6], x.shape))
        expected = batch_norm_train(np.moveaxis(x, -1, 1))
        self.assertLess(float(np.abs(np.moveaxis(y, -1, 1) - expected).max()), 1e-5)

    def test_timeout(self):
        with self.assertRaises(TimeoutError):
            self.client.receive(timeout=0.2)

    def test_bfloat16(self):
        import ml_dtypes

        x = np.random.default_rng(3).normal(1, 2, (8, 2, 16)).astype(ml_dtypes.bfloat16)
        self.client.send("bf16", x)
        _, header, y = self.client.receive(timeout=10)
        self.assertEqual((header["dtype"], y.dtype), ("bfloat16", np.dtype(ml_dtypes.bfloat16)))
        expected = batch_norm_train(x.astype(np.float64))
        self.assertLess(float(np.abs(y.astype(np.float64) - expected).max()), 2e-2)  # bfloat16 keeps 8 bits

    def test_refuses_integer_arrays(self):
        with self.assertRaises(TypeError):
            self.client.send("int", np.zeros((2, 3), np.int32))

    def test_subscriber_with_topics(self):
        x = np.ones((2, 2, 4), np.float32) * np.arange(4, dtype=np.float32)
        with NormdClient(ENV["NORMD_PUB_IN"], ENV["NORMD_PUB_OUT"], output_socket="sub", topics=["cam"]) as client:
            # PUB drops until the subscription reaches normd: send until one arrives.
            for _ in range(100):
                client.send("cam1", x)
                try:
                    client.receive(timeout=0.1)
                    break
                except TimeoutError:
                    continue
            else:
                self.fail("the subscription never took effect")
            while True:  # drain what the retries left in flight
                try:
                    client.receive(timeout=0.3)
                except TimeoutError:
                    break
            client.send("other", x)
            client.send("cam2", x)
            self.assertEqual(client.receive(timeout=10).key, "cam2")

    def test_curve(self):
        x = np.random.default_rng(4).normal(0, 1, (4, 3, 2)).astype(np.float32)
        with NormdClient(ENV["NORMD_SECURE_IN"], ENV["NORMD_SECURE_OUT"], server_key=ENV["NORMD_SERVER_KEY"],
                         certificate=ENV["NORMD_CLIENT_CERT"]) as client:
            client.send("secret", x)
            _, header, y = client.receive(timeout=10)
        self.assertLess(float(np.abs(y - batch_norm_train(x)).max()), 1e-5)

    def test_asyncio(self):
        async def run():
            x = np.random.default_rng(5).normal(0, 1, (4, 3, 2)).astype(np.float64)
            async with AsyncNormdClient(ENV["NORMD_ASYNC_IN"], ENV["NORMD_ASYNC_OUT"]) as client:
                await client.send("async", x, seq=1)
                key, header, y = await client.receive(timeout=10)
                with self.assertRaises(TimeoutError):
                    await client.receive(timeout=0.2)
            return key, y, x

        key, y, x = asyncio.run(run())
        self.assertEqual(key, "async")
        self.assertLess(float(np.abs(y - batch_norm_train(x)).max()), 1e-12)


if __name__ == "__main__":
    unittest.main()
