"""Private backing services the fault tests may kill: a Redis and a PostgreSQL of their own.

Other test runs share the machine's Redis (6379) and PostgreSQL (5432); a fault test must never
stop or flush those. Each service here runs on a free port in a temp dir, as a real process
that a test can stop (gracefully or with SIGKILL) and start again on the same port and data.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import redis


def descendants(pid: int) -> list[int]:
    """The ids of a process's children, their children, and so on (read from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    """Poll ``check()`` until it returns a truthy value; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PrivateRedis:
    """A ``redis-server`` subprocess (AOF on by default), stoppable and restartable."""

    def __init__(self, persistent: bool = True):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        # Production runs Redis with an append-only file: an acknowledged write survives a
        # crash of the Redis process. Tests that kill Redis need the same to be fair.
        self.persistent = persistent
        self.dir = Path(tempfile.mkdtemp(prefix="inlet-h7-redis-"))

    @property
    def url(self) -> str:
        """The URL Inlet is configured with."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client with short timeouts (the server may be dead)."""
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=1)

    def start(self) -> None:
        """Start on the same port and data directory (the AOF is replayed on start)."""
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "everysec",
             "--dir", str(self.dir), "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._pings, 10, "private redis")

    def _pings(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server (SIGKILL by default: a crash, not a polite shutdown)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None

    def destroy(self) -> None:
        """Stop the server and remove its data."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL binary {name} not found under /usr/lib/postgresql")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb as the ``postgres`` user, trust auth)."""

    def __init__(self):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="inlet-h7-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.sockets.mkdir()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")

    def url(self, database: str = "postgres") -> str:
        """A URL of one database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (["runuser", "-u", "postgres", "--"] if self._as_postgres else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check)

    def init(self) -> None:
        """Create the cluster (trust auth, no fsync: the tests crash processes, not disks).

        ``synchronous_commit`` stays on: with it off, a crash loses commits already
        acknowledged, which would make "nothing accepted is lost" untestable.
        """
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        """Start the cluster on its port (crash recovery runs if it was killed)."""
        opts = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off "
                "-c max_connections=100")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                  str(self.root / "log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` is a crash (every connection is cut at once)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30",
                  "stop", check=False)

    def connect(self, database: str = "postgres"):
        """An autocommit psycopg2 connection (for CREATE DATABASE and checks)."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname=database, connect_timeout=3)
        conn.autocommit = True
        return conn

    def destroy(self) -> None:
        """Stop the cluster and remove its files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Process:
    """An ``inlet`` subprocess (serve or worker) with its own environment and log file."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        """Start the process in its own session, logging to ``log``."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
        full_env.update(self.env)
        full_env["PYTHONUNBUFFERED"] = "1"
        out = open(self.log, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        # A new session: its group is what terminate() stops (see kill() for the work horse).
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", *self.args],
                                     env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        return self

    def kill(self) -> None:
        """SIGKILL the process and its descendants: no cleanup runs. An RQ work horse puts
        itself in a process group of its own, so killing the group alone would leave the
        job running, orphaned, beside the next worker's."""
        if self.proc and self.proc.poll() is None:
            for pid in [*descendants(self.proc.pid), self.proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15) -> None:
        """SIGTERM the process group; SIGKILL if it does not stop in time."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        """True while the process runs."""
        return bool(self.proc and self.proc.poll() is None)

    def output(self) -> str:
        """The end of the process's log (for failure messages)."""
        return self.log.read_text(errors="replace")[-4000:]
