"""Continuous write load from several kazoo clients, and sessions that die without closing.

Each writer records what the ensemble acknowledged and what it merely attempted, so the checks
can demand that every acknowledged write survives and that nothing appears that nobody wrote.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError, SequentialThreadingHandler

LOAD = "/e2e/load"
SEQ = "/e2e/seq"
EPH = "/e2e/eph"
OP_TIMEOUT = 6.0


def ensure_layout(hosts: str) -> None:
    """Creates the parents the writers use."""
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=15)
    try:
        for p in (LOAD, SEQ, EPH):
            zk.ensure_path(p)
    finally:
        zk.stop()
        zk.close()


class BoundedConnectHandler(SequentialThreadingHandler):
    """kazoo's threading handler with every TCP connect bounded, as Apache's Java client does.

    kazoo 2.11 gives each TCP connect the whole session timeout (kazoo issues #517 and #756,
    fix pending in PR #685). A connect to a killed container's address is never answered (the
    address is gone from the bridge: no RST), so a writer whose shuffled host list puts that
    address first hangs for a whole session timeout. The new leader gave every session a fresh
    lease when it started serving, about 100 ms after the kill, so the writer comes back just
    as its session is due: zkserver expired one 28 ms before its writer got through. Apache
    treats it the same way; with these settings minus this handler, two of four writers lost
    their sessions against Apache (ZK_E2E_TARGET=apache) after hanging on the dead address
    twice in a row (last in one shuffled sweep, first in the next). Apache's Java client
    bounds each connect at sessionTimeout / number of hosts, so it tries every host within
    one session timeout; a kazoo user who wants to survive the loss of a host must bound it
    likewise, and so do these writers.
    """

    def __init__(self, connect_timeout: float):
        super().__init__()
        self.connect_timeout = connect_timeout

    def create_connection(self, *args, **kwargs):
        kwargs["timeout"] = min(kwargs.get("timeout") or self.connect_timeout, self.connect_timeout)
        return super().create_connection(*args, **kwargs)


@dataclass
class Writer:
    """One client writing as fast as the ensemble answers, until stopped or `max_ops` attempts."""

    wid: int
    hosts: str
    max_ops: int = 20000
    rate: float = 60.0
    acked: dict[str, bytes] = field(default_factory=dict)
    attempted: set[str] = field(default_factory=set)
    acked_seq: list[str] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    failures: int = 0
    unexpected: list[str] = field(default_factory=list)
    lost: int = 0
    session_start: Optional[tuple] = None

    def __post_init__(self):
        self._stop = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"writer-{self.wid}", daemon=True)
        # Kazoo's default reconnect backoff doubles up to an hour, and a connect to a killed
        # container's address hangs until it times out: with those defaults a client can stay
        # away longer than its session timeout, which Apache would expire just the same. A
        # client that wants to keep its session reconnects briskly; so do these.
        session_timeout = 10.0
        self.zk = KazooClient(
            hosts=self.hosts,
            timeout=session_timeout,
            handler=BoundedConnectHandler(session_timeout / len(self.hosts.split(","))),
            randomize_hosts=True,
            connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0},
            # One logger per writer, so a log file (pytest --log-file) tells their reconnects apart.
            logger=logging.getLogger(f"kazoo.writer{self.wid}"),
        )
        self.zk.add_listener(self._on_state)

    def _on_state(self, state) -> None:
        # kazoo reports LOST on its own stop() too; only a loss before that counts.
        if state == KazooState.LOST and not self._closing:
            self.lost += 1

    def start(self) -> None:
        self.zk.start(timeout=15)
        self.session_start = self.zk.client_id
        # Lives as long as this writer's session; must be gone everywhere once it closes.
        self.zk.create(f"{EPH}/writer-{self.wid}", b"", ephemeral=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.unexpected.append("writer thread did not stop")

    def close(self) -> None:
        self._closing = True
        if self.zk.client_id != self.session_start:
            self.unexpected.append(f"session changed from {self.session_start} to {self.zk.client_id}")
        try:
            self.zk.stop()
        finally:
            self.zk.close()

    def acked_since(self, t: float) -> int:
        return sum(1 for x in self.ack_times if x >= t)

    def _run(self) -> None:
        started = time.monotonic()
        for k in range(self.max_ops):
            # Paced so the trees stay small enough to walk; a slow ensemble just falls behind.
            ahead = started + k / self.rate - time.monotonic()
            if self._stop.wait(ahead) if ahead > 0 else self._stop.is_set():
                return
            data = f"{self.wid}:{k}".encode()
            sequential = k % 3 == 0
            path = f"{SEQ}/s-" if sequential else f"{LOAD}/w{self.wid}-{k}"
            if not sequential:
                self.attempted.add(path)
            try:
                created = self.zk.create_async(path, data, sequence=sequential).get(timeout=OP_TIMEOUT)
            except (KazooException, KazooTimeoutError) as exc:
                # Not acknowledged: it may or may not have been applied. Back off briefly.
                if isinstance(exc, NodeExistsError):
                    self.unexpected.append(f"{path}: {exc!r}")
                self.failures += 1
                self._stop.wait(0.05)
                continue
            except Exception as exc:  # noqa: BLE001 - anything else is a finding, not a retry
                self.unexpected.append(f"{path}: {exc!r}")
                return
            self.acked[created] = data
            self.ack_times.append(time.monotonic())
            if sequential:
                self.acked_seq.append(created)


class Writers:
    """A group of writers started and stopped together."""

    def __init__(self, hosts: str, count: int = 4, max_ops: int = 20000):
        self.writers = [Writer(i, hosts, max_ops) for i in range(count)]
        self._closed = False

    def start(self) -> None:
        for w in self.writers:
            w.start()

    def stop_and_close(self) -> None:
        """Stops every writer and closes its session (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        for w in self.writers:
            w.stop()
        for w in self.writers:
            w.close()

    def acked_since(self, t: float) -> dict[int, int]:
        return {w.wid: w.acked_since(t) for w in self.writers}

    def total_acked(self) -> int:
        return sum(len(w.acked) for w in self.writers)


_DOOMED = r"""
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=2.0)
zk.start(timeout=15)
zk.create(sys.argv[2], b"doomed", ephemeral=True)
print("%x" % zk.client_id[0], flush=True)
time.sleep(300)
"""


class DoomedSession:
    """A client process that holds an ephemeral node and is then SIGKILLed (its session never closes)."""

    def __init__(self, addr: str, path: str):
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _DOOMED, addr, path],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = ""
        if self.proc.stdout is not None:
            line = self.proc.stdout.readline().strip()
        if not line:
            self.kill()
            raise RuntimeError(f"doomed session for {path} did not start")
        self.session = int(line, 16)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
