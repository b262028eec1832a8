#!/usr/bin/env python3
"""Soak test: runs the real normd for a while under load and faults, then checks it.

Load: several producers send many keys at a fixed rate (pick it near 80% of what `normd bench`
measures for the shape), reconnecting now and then; a storm of malformed messages is mixed in;
the consumer stalls for seconds at a time (the output blocks, so producers feel it); SIGHUP
reloads arrive every few seconds.

Checks at the end, printed and turned into the exit status:
  - the daemon never crashed and exits 0 on SIGTERM;
  - received = published + rejected + dropped + in_flight, and every malformed message was rejected;
  - every key's outputs arrived in the order its batches were sent, none twice;
  - each key's running_mean/running_var equal a float64 NumPy recomputation over the batches the
    daemon published (relative 1e-9), and num_batches_tracked their count;
  - resident memory after warm-up stays within 10% (max / min of one-second samples).

    scripts/soak --duration 600 --rate 400
"""
import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

SHAPE = (8, 4, 64)
MALFORMED = ["header", "shape", "nonfinite", "payload_size"]


def batch_pool(index):
    """The batches producer `index` cycles through, drawn up front so NumPy does not set the
    pace; the checker draws the same pool again from the same seed."""
    rng = np.random.default_rng(index)
    return [rng.normal(rng.uniform(-5, 5), rng.uniform(0.5, 3), SHAPE).astype(np.float32) for _ in range(97)]


def producer_main(index, args, work, stop, sent_counts, received_counts, results):
    """One producer process (no GIL shared with the others): its keys, at its share of the rate."""
    pool = batch_pool(index)
    rng = np.random.default_rng(1000 + index)
    keys = [f"key{k}" for k in range(index, args.keys, args.producers)]
    seqs = {k: 0 for k in keys}
    order = {k: [] for k in keys}   # per key, the pool index of each seq
    malformed = dict.fromkeys(MALFORMED, 0)
    interval = args.producers / args.rate
    ctx = zmq.Context()
    sock = None
    reconnect_at = 0
    next_send = time.monotonic()
    n = 0
    while not stop.is_set():
        if sock is None or time.monotonic() > reconnect_at:
            if sock is not None:
                # Two live connections from one producer are fair-queued by ZeroMQ, so batches of
                # a key could reach normd out of send order; let the old one drain first.
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not stop.is_set() and received_counts[index] < sent_counts[index]:
                    time.sleep(0.02)
                sock.close(linger=10000)
            sock = ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.SNDHWM, 16)
            sock.connect(f"ipc://{work}/in")
            reconnect_at = time.monotonic() + rng.uniform(3, 8)
        n += 1
        key = keys[n % len(keys)]
        if n % 17 == 0:  # the storm of malformed messages
            kind = MALFORMED[n // 17 % 4]
            bad = pool[n % len(pool)]
            frames = {
                "header": [key.encode(), b"{not json", bad.tobytes()],
                "shape": [key.encode(), b'{"dtype":"float32","shape":[0,4]}', bad.tobytes()],
                "nonfinite": [key.encode(), b'{"dtype":"float32","shape":[8,4,64]}',
                              np.where(np.arange(bad.size).reshape(SHAPE) == 5, np.nan, bad).astype(np.float32).tobytes()],
                "payload_size": [key.encode(), b'{"dtype":"float32","shape":[8,4,64]}', bad.tobytes()[:-4]],
            }[kind]
            sock.send_multipart(frames)
            malformed[kind] += 1
            continue
        seq = seqs[key]
        seqs[key] += 1
        i = n % len(pool)
        order[key].append(i)
        sock.send_multipart([key.encode(), b'{"dtype":"float32","shape":[8,4,64],"seq":%d}' % seq, pool[i]], copy=False)
        sent_counts[index] += 1
        next_send += interval
        delay = next_send - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    sock.close(linger=10000)
    ctx.term()
    results.put((index, order, malformed))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ctl(binary, sock, *words):
    out = subprocess.run([binary, "ctl", "--socket", sock, "--json", *words], capture_output=True, text=True, timeout=20)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description="normd soak test")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--rate", type=float, default=300, help="valid batches per second, all producers together")
    ap.add_argument("--keys", type=int, default=64)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--binary", default=None)
    args = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = args.binary or next(p for p in [os.path.join(root, ".build/release/normd"), os.path.join(root, ".build/debug/normd")] if os.path.exists(p))
    work = tempfile.mkdtemp(prefix="normd-soak-")
    sock = f"{work}/ctl.sock"
    config = f"{work}/normd.toml"
    with open(config, "w") as f:
        f.write(f"""[daemon]
control_socket = "{sock}"
state_dir = "{work}/state"
checkpoint_interval_s = 2
log_level = "warning"

[[pipeline]]
name = "soak"
[pipeline.input]
socket = "pull"
bind = ["ipc://{work}/in"]
hwm = 16
[pipeline.output]
socket = "push"
bind = ["ipc://{work}/out"]
hwm = 16
when_full = "block"
dead_letter = "ipc://{work}/dead"
[pipeline.norm]
kind = "batch"
channels = 4
momentum = 0.1
""")
    log = open(f"{work}/normd.log", "w")
    daemon = subprocess.Popen([binary, "run", "--config", config], stderr=log, stdout=log)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    print(f"soak: {binary}, {args.duration:.0f} s, {args.rate:.0f} batches/s, {args.keys} keys, {args.producers} producers, folder {work}", flush=True)

    # Producers are processes, started before this process makes any ZeroMQ context or thread.
    fork = mp.get_context("fork")
    stop = fork.Event()
    sent_counts = fork.Array("q", args.producers, lock=False)
    received_counts = fork.Array("q", args.producers, lock=False)
    results = fork.Queue()
    producers = [fork.Process(target=producer_main, args=(i, args, work, stop, sent_counts, received_counts, results))
                 for i in range(args.producers)]
    for p in producers:
        p.start()
    ctx = zmq.Context()
    lock = threading.Lock()
    received = {}        # key -> [seq, ...] in arrival order
    rss = []

    def consumer():
        pull = ctx.socket(zmq.PULL)
        pull.setsockopt(zmq.RCVHWM, 16)
        pull.setsockopt(zmq.RCVTIMEO, 200)
        pull.connect(f"ipc://{work}/out")
        stall_at = time.monotonic() + 10
        quiet_since = None
        while True:
            if time.monotonic() > stall_at and not stop.is_set():
                time.sleep(3)  # the consumer stalls; the daemon's output blocks
                stall_at = time.monotonic() + 12
            try:
                key, header, _ = pull.recv_multipart()
            except zmq.Again:
                if stop.is_set():
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 2:
                        break
                continue
            quiet_since = None
            h = json.loads(header)
            name = key.decode()
            with lock:
                received.setdefault(name, []).append(h["seq"])
            received_counts[int(name[3:]) % args.producers] += 1
        pull.close()

    def dead_letters():
        dead = ctx.socket(zmq.PULL)
        dead.setsockopt(zmq.RCVTIMEO, 200)
        dead.connect(f"ipc://{work}/dead")
        while not stop.is_set():
            try:
                dead.recv_multipart()
            except zmq.Again:
                pass
        dead.close()

    threads = [threading.Thread(target=consumer), threading.Thread(target=dead_letters)]
    for t in threads:
        t.start()
    start = time.monotonic()
    next_hup = start + 7
    while time.monotonic() - start < args.duration:
        time.sleep(1)
        elapsed = time.monotonic() - start
        if daemon.poll() is not None:
            print(f"soak: FAILED — normd exited with {daemon.returncode}", flush=True)
            stop.set()
            break
        if elapsed > args.duration * 0.2:
            rss.append(rss_kib(daemon.pid))
        if time.monotonic() > next_hup:
            daemon.send_signal(signal.SIGHUP)
            next_hup += 7
        with lock:
            outputs = sum(len(v) for v in received.values())
        line = f"soak: {elapsed:5.0f} s, {outputs} batches out, RSS {rss_kib(daemon.pid) // 1024} MiB"
        if sys.stderr.isatty():
            print(f"\r{line}", end="", file=sys.stderr, flush=True)
        elif int(elapsed) % 10 == 0:
            print(line, file=sys.stderr, flush=True)
    print(file=sys.stderr)
    stop.set()
    sent = {}            # key -> [batch of each seq]
    malformed = dict.fromkeys(MALFORMED, 0)
    for _ in producers:
        index, order, bad = results.get(timeout=60)
        pool = batch_pool(index)
        for key, indices in order.items():
            sent[key] = [pool[i] for i in indices]
        for kind, count in bad.items():
            malformed[kind] += count
    for p in producers:
        p.join()
    for t in threads:
        t.join()
    time.sleep(1)

    failures = []
    alive = daemon.poll() is None
    stats = ctl(binary, sock, "stats")["pipelines"]["soak"] if alive else {}
    show = ctl(binary, sock, "show", "soak")["keys"] if alive else {}
    if alive:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
        if code != 0:
            failures.append(f"normd exited {code} on SIGTERM")
    else:
        failures.append("normd crashed")

    rejected = stats.get("rejected", {})
    total_rejected = sum(rejected.values())
    print(f"received {stats.get('received')}, published {stats.get('published')}, rejected {total_rejected} {json.dumps(rejected)}, "
          f"dropped {stats.get('dropped')}, in flight {stats.get('in_flight')}")
    print(f"malformed sent {json.dumps(malformed)}")
    if stats and stats["received"] != stats["published"] + total_rejected + stats["dropped"] + stats["in_flight"]:
        failures.append("received != published + rejected + dropped + in_flight")
    for reason, count in malformed.items():
        if rejected.get(reason, 0) != count:
            failures.append(f"{count} malformed '{reason}' sent, {rejected.get(reason, 0)} rejected")

    order_breaks = 0
    duplicates = 0
    worst = 0.0
    for key, seqs in received.items():
        if len(seqs) != len(set(seqs)):
            duplicates += 1
        if seqs != sorted(seqs):
            order_breaks += 1
        # float64 recomputation of BatchNorm's running statistics over the published batches
        mean, var = np.zeros(4), np.ones(4)
        for seq in seqs:
            x = sent[key][seq].astype(np.float64)
            n = x.size // 4
            mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2))
            var = 0.9 * var + 0.1 * x.var(axis=(0, 2)) * n / (n - 1)
        got = show.get(key)
        if got is None:
            failures.append(f"{key}: no state")
            continue
        if got["num_batches_tracked"] != len(seqs):
            failures.append(f"{key}: num_batches_tracked {got['num_batches_tracked']} != {len(seqs)} published")
        for ours, ref in [(got["running_mean"], mean), (got["running_var"], var)]:
            err = np.max(np.abs(np.array(ours) - ref) / np.maximum(1e-12, np.abs(ref)))
            worst = max(worst, float(err))
    if order_breaks:
        failures.append(f"{order_breaks} keys out of order")
    if duplicates:
        failures.append(f"{duplicates} keys with a batch published twice")
    if worst > 1e-9:
        failures.append(f"running statistics differ from the float64 recomputation by {worst:.2e}")
    published = sum(len(v) for v in received.values())
    growth = max(rss) / min(rss) if rss else float("nan")
    print(f"keys {len(received)}, batches published and received {published}, order intact in every key: {order_breaks == 0}, "
          f"statistics vs float64 recomputation: worst relative error {worst:.2e}")
    print(f"resident memory after warm-up: {min(rss) // 1024 if rss else 0}–{max(rss) // 1024 if rss else 0} MiB (max/min {growth:.3f})")
    if not rss or growth > 1.10:
        failures.append(f"resident memory not flat within 10% (max/min {growth:.3f})")
    if stats.get("received", 0) == 0:
        failures.append("nothing was received")
    print("soak: PASSED" if not failures else "soak: FAILED — " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
