"""Servers under measurement and the helpers that drive them, shared by bench/run and
bench/heap.py: a server started with `--port 0` and ready once it prints `listening on
ADDR`, the descriptor limit for many connections, and the idle tool that parks them."""
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NCPU = os.cpu_count() or 1
SERVER_CPU = "0"
CLIENT_CPU = "1" if NCPU > 1 else "0"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def have(tool):
    return shutil.which(tool) is not None


class Server:
    """A server process pinned to SERVER_CPU (unless `pin=False`), started in a session of
    its own with `--port 0` (or its own equivalent) and ready once it printed `listening on
    ADDR` on stderr."""

    def __init__(self, name, cmd, pin=True, addr=None, timeout=60):
        """`addr`: a server that prints no `listening on` line (redis-server) listens
        there, on the port given in its command; it is ready once it accepts."""
        self.name = name
        self.cmd = (["taskset", "-c", SERVER_CPU] if pin and have("taskset") else []) + [str(c) for c in cmd]
        self.errfile = tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.errfile, start_new_session=True)
        try:
            self.addr = self.wait_accepting(addr, timeout) if addr else self.wait_listening(timeout)
        except BaseException:
            self.stop(timeout=0)
            raise

    def wait_accepting(self, addr, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(addr, timeout=1).close()
                return addr
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.stderr()}")
                time.sleep(0.01)
        raise RuntimeError(f"{self.name}: not accepting on {addr}")

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def wait_listening(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on (\d+\.\d+\.\d+\.\d+):(\d+)", self.stderr())
            if m:
                return (m.group(1), int(m.group(2)))
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.stderr()[-2000:]}")
            time.sleep(0.005)
        raise RuntimeError(f"{self.name}: no listening line in {timeout} s")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=10):
        """SIGTERM to the process group and a wait for a graceful exit (a server under
        valgrind writes its profile then), SIGKILL after `timeout` seconds. True if it
        exited by itself."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
            return True
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            return False


def raise_descriptor_limit(conns):
    """Room for `conns` connections in this process and the ones it starts (root may raise
    the hard limit); False if the system refuses."""
    want = conns + 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return True
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        return True
    except (ValueError, OSError):
        return False


def park_idle(server, conns, idle_tool, timeout=None):
    """`conns` connections to `server`, one round trip each so that every handler is
    parked in a read, by the idle tool (bench/src/bin/idle.rs): its JSON line, with the
    server's RSS growth per connection."""
    out = subprocess.run([str(idle_tool), "--addr", f"{server.addr[0]}:{server.addr[1]}",
                          "--pid", str(server.pid), "--conns", str(conns)],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{idle_tool} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
