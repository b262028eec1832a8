import Foundation

/// What a user would write instead of normd, for `normd bench --python`: a pyzmq pass-through
/// forwarder, and a pyzmq + NumPy BatchNorm in training mode (running statistics by momentum,
/// PyTorch's rules). Each runs in a python3 of its own, bound where normd would be, and is driven
/// by the same producer and consumer as normd and zmq_proxy. Each script first clears its signal
/// mask: a child inherits the mask of the thread that spawned it, where SIGTERM may be blocked.
enum PythonPeers {
    static let forwarderTarget = "pyzmq forwarder"
    static let normalizerTarget = "pyzmq+numpy"
    static let targets = [forwarderTarget, normalizerTarget]

    /// Both scripts' start: arguments, a cleared signal mask, and the PULL and PUSH bound.
    static let preamble = """
        import json, signal, sys, zmq
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        source, sink, hwm, per_key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "per_key"
        context = zmq.Context()
        pull = context.socket(zmq.PULL)
        pull.rcvhwm = hwm
        push = context.socket(zmq.PUSH)
        push.sndhwm = hwm
        pull.bind(source)
        push.bind(sink)

        """

    /// Receives each message's frames without copying them and sends the same frames on.
    static let forwarder =
        preamble + """
            while True:
                push.send_multipart(pull.recv_multipart(copy=False), copy=False)
            """

    /// BatchNorm train over [N, C, ...] float32: normalizes with the batch's biased variance,
    /// moves the running mean and unbiased variance by momentum 0.1 (per key or shared), and sends
    /// the key, the input header with a `norm` object, and the normalized array without a copy.
    static let normalizer =
        preamble + """
            import numpy as np
            momentum, eps = 0.1, 1e-5
            running = {}
            while True:
                key, header, payload = pull.recv_multipart(copy=False)
                fields = json.loads(header.bytes)
                x = np.frombuffer(payload.buffer, dtype=np.float32).reshape(fields["shape"])
                axes = (0,) + tuple(range(2, x.ndim))
                count = x.size // x.shape[1]
                mean = x.mean(axis=axes, keepdims=True)
                var = x.var(axis=axes, keepdims=True)
                y = (x - mean) * (1.0 / np.sqrt(var + eps)).astype(np.float32)
                stats = running.setdefault(key.bytes if per_key else b"", [np.zeros(x.shape[1]), np.ones(x.shape[1])])
                stats[0] = (1 - momentum) * stats[0] + momentum * mean.reshape(-1)
                stats[1] = (1 - momentum) * stats[1] + momentum * var.reshape(-1) * count / max(count - 1, 1)
                fields["norm"] = {"kind": "batch", "mode": "train", "momentum": momentum, "eps": eps}
                push.send_multipart([key, json.dumps(fields, separators=(",", ":")).encode(), y], copy=False)
            """

    static func script(for target: String) -> String? {
        switch target {
        case forwarderTarget: forwarder
        case normalizerTarget: normalizer
        default: nil
        }
    }

    /// Fails with what to install when python3 cannot import pyzmq and NumPy.
    static func checkAvailable() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import zmq, numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            throw BenchError("--python needs python3 on PATH: \(error)")
        }
        guard process.terminationStatus == 0 else {
            throw BenchError("--python needs python3 with pyzmq and NumPy (python3 -m pip install pyzmq numpy)")
        }
    }

    /// The python3 process running `target`'s script, bound at `input` and `output`.
    static func process(_ target: String, input: String, output: String, hwm: Int32, perKey: Bool) -> Process? {
        guard let script = script(for: target) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, input, output, "\(hwm)", perKey ? "per_key" : "shared"]
        return process
    }
}
