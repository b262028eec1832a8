#!/usr/bin/env python3
"""Runs `normd top` on a pseudo-terminal the way a person would: waits for a screen naming the
pipeline, presses s, then ends it with q (or SIGINT/SIGTERM), and checks the terminal is given back:
the alternate screen left, the cursor shown, echo and line mode on again.

usage: top_pty.py NORMD SOCKET PIPELINE q|SIGINT|SIGTERM  -> prints "ok <status>" or fails
"""
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

normd, socket, pipeline, how = sys.argv[1:5]
master, slave = pty.openpty()
before = termios.tcgetattr(slave)
child = subprocess.Popen([normd, "top", "--socket", socket, "--interval", "0.2"], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
screen = b""


def read_until(needle, seconds=20):
    global screen
    deadline = time.monotonic() + seconds
    while needle not in screen:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit(f"no {needle!r} on the screen within {seconds} s; saw {screen[-2000:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                screen += os.read(master, 65536)
            except OSError:
                break


read_until(b"\x1b[?1049h")
read_until(pipeline.encode())
read_until(b"sorts keys (now by score)")
os.write(master, b"s")
read_until(b"sorts keys (now by name)")
if how == "q":
    os.write(master, b"q")
else:
    child.send_signal(getattr(signal, how))
# Wait for it to end, reading the screen meanwhile: a terminal nobody reads fills up (about 15 KiB
# here) and then blocks the writer, which would hang a `normd top` still drawing.
deadline = time.monotonic() + 30
while child.poll() is None:
    if time.monotonic() > deadline:
        sys.exit(f"normd top did not end within 30 s of {how}; the screen ends {screen[-200:]!r}")
    ready, _, _ = select.select([master], [], [], 0.1)
    if ready:
        try:
            screen += os.read(master, 65536)
        except OSError:
            pass
status = child.returncode
# Drain what is left.
while True:
    ready, _, _ = select.select([master], [], [], 0.2)
    if not ready:
        break
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    screen += chunk
after = termios.tcgetattr(slave)
if not screen.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l"):
    sys.exit(f"the terminal was not given back; the output ends {screen[-80:]!r}")
if after[3] & (termios.ECHO | termios.ICANON) != before[3] & (termios.ECHO | termios.ICANON):
    sys.exit("echo or line mode were not restored")
print(f"ok {status}")
