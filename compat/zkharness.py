"""Start/stop a ZooKeeper-compatible server (Apache or zkserver) for the compat suites.

The same harness drives both targets so that every test is validated against Apache first and then used as a
yardstick for `zkserver`. Servers are always bound to loopback and always stopped by PID.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
APACHE_BIN = Path("/usr/share/zookeeper/bin")
APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

# The super user configured through -Dzookeeper.DigestAuthenticationProvider.superDigest.
SUPER_USER = "super"
SUPER_PASSWORD = "superpw"


def digest_id(user: str, password: str) -> str:
    """The digest-scheme id `user:base64(sha1("user:password"))`, as ZooKeeper stores it."""
    import base64
    import hashlib

    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


TARGETS = ("apache", "zkserver", "zkserver-ensemble")


def target() -> str:
    """Which server the suite runs against: `apache`, `zkserver` (default) or `zkserver-ensemble`."""
    t = os.environ.get("ZK_TARGET", "zkserver").strip().lower()
    if t not in TARGETS:
        raise RuntimeError(f"ZK_TARGET must be one of {', '.join(TARGETS)}, not {t!r}")
    return t


def is_apache() -> bool:
    return target() == "apache"


def is_ensemble() -> bool:
    """True when the shared server is a 3-member zkserver ensemble (clients talk to a follower)."""
    return target() == "zkserver-ensemble"


def serving_modes() -> tuple[str, ...]:
    """The `Mode:` a serving target reports in srvr/mntr: standalone, or a quorum role."""
    return ("leader", "follower") if is_ensemble() else ("standalone",)


def wait_until(cond: Callable[[], object], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Polls `cond` until it returns a truthy value (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - conditions may fail while the state settles
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_exc!r}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter(port: int, cmd: str, timeout: float = 10.0, host: str = "127.0.0.1") -> str:
    """Sends a four-letter word and reads the whole answer until the server closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")


def apache_classpath() -> str:
    """The classpath exactly as Debian's zkEnv.sh builds it (sourced, not guessed)."""
    out = subprocess.run(
        ["bash", "-c", f'. {APACHE_BIN / "zkEnv.sh"} >/dev/null 2>&1; echo "$CLASSPATH"'],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    if not out:
        out = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
    # zookeeper.jar's manifest pulls in slf4j-api only; add a binding so server logs land in server-N.log
    simple = Path("/usr/share/java/slf4j-simple.jar")
    if simple.exists():
        out += f":{simple}"
    return out


def apache_java_cmd(main: str, args: list[str], jvm_flags: Optional[list[str]] = None) -> list[str]:
    """A `java` command line running an Apache class with Debian's classpath."""
    return ["java", *(jvm_flags or []), "-cp", apache_classpath(), main, *args]


@dataclass
class ZkServer:
    """One server process on loopback with its own dataDir; restartable on the same dataDir and port."""

    workdir: Path
    kind: str = field(default_factory=lambda: "zkserver" if is_ensemble() else target())
    port: int = field(default_factory=free_port)
    cfg_extra: dict = field(default_factory=dict)
    jvm_flags: list = field(default_factory=list)
    tick_time: int = 500
    proc: Optional[subprocess.Popen] = None
    starts: int = 0

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path = self.workdir / "zoo.cfg"

    # ---- configuration -------------------------------------------------------------------------
    def base_jvm_flags(self) -> list[str]:
        return [
            f"-Dzookeeper.DigestAuthenticationProvider.superDigest={digest_id(SUPER_USER, SUPER_PASSWORD)}",
            "-Dznode.container.checkIntervalMs=1000",
            "-Dzookeeper.admin.enableServer=false",
        ]

    def all_jvm_flags(self) -> list[str]:
        return self.base_jvm_flags() + list(self.jvm_flags)

    def write_cfg(self):
        cfg = {
            "tickTime": str(self.tick_time),
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "4lw.commands.whitelist": "*",
            "extendedTypesEnabled": "true",
            "minSessionTimeout": "1000",
            "maxSessionTimeout": "60000",
            "admin.enableServer": "false",
        }
        cfg.update({k: str(v) for k, v in self.cfg_extra.items() if v is not None})
        for k in [k for k, v in self.cfg_extra.items() if v is None]:
            cfg.pop(k, None)
        self.cfg_path.write_text("".join(f"{k}={v}\n" for k, v in cfg.items()))

    def command(self) -> tuple[list[str], dict]:
        env = dict(os.environ)
        flags = self.all_jvm_flags()
        if self.kind == "apache":
            jvm = [f"-Dzookeeper.log.dir={self.workdir}", "-Xmx512m", *flags]
            return apache_java_cmd(APACHE_MAIN, [str(self.cfg_path)], jvm), env
        binary = os.environ.get("ZKSERVER_BIN", str(REPO_ROOT / "target" / "release" / "zkserver"))
        env["SERVER_JVMFLAGS"] = " ".join(shlex.quote(f) for f in flags)
        return [binary, str(self.cfg_path)], env

    # ---- lifecycle -----------------------------------------------------------------------------
    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def start(self, timeout: float = 60.0):
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self):
        """Starts the process without waiting: an ensemble member serves only once a quorum is up."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.write_cfg()
        self.starts += 1
        cmd, env = self.command()
        if self.kind == "zkserver" and not Path(cmd[0]).exists():
            raise RuntimeError(f"zkserver binary not found at {cmd[0]} (set ZKSERVER_BIN or build --release)")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        log.close()

    def wait_ready(self, timeout: float = 60.0):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if four_letter(self.port, "ruok", timeout=2) != "imok":
                    return False
                # Apache answers ruok before its database is loaded; srvr says when it really serves
                # (a server whose whitelist refuses srvr is taken as ready on ruok alone)
                return "not currently serving" not in four_letter(self.port, "srvr", timeout=2)
            except OSError:
                return False

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except RuntimeError:
                raise
            time.sleep(0.1)
        raise AssertionError(f"server on {self.port} not ready within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"

    def _wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, timeout: float = 20.0):
        """Graceful stop (SIGTERM by PID), escalating to SIGKILL after `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        if not self._wait_exit(timeout):
            os.kill(self.proc.pid, signal.SIGKILL)
            self._wait_exit(timeout)
        self.wait_port_free()

    def kill9(self):
        """Crash the server: SIGKILL by PID, no chance to flush anything."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self._wait_exit(20)
        self.wait_port_free()

    def wait_port_free(self, timeout: float = 20.0):
        def free():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", self.port))
                    return True
                except OSError:
                    return False

        wait_until(free, timeout, what=f"port {self.port} to be free")

    def restart(self, timeout: float = 60.0):
        self.stop()
        return self.start(timeout)

    def four(self, cmd: str) -> str:
        return four_letter(self.port, cmd)

    def version_dir(self) -> Path:
        return self.data_dir / "version-2"


def mode_of(server: ZkServer) -> Optional[str]:
    """The `Mode:` line of a server's srvr answer, or None while it does not serve."""
    try:
        text = server.four("srvr")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return None


class ZkEnsemble:
    """Three zkserver processes forming one quorum (`server.N` lines, `myid`), all on loopback.

    It stands in for the shared single server: `port`, `hosts`, `data_dir` and `four` are those of one
    follower, so per-server checks (4lw counts, conf) stay exact. With ZK_ENSEMBLE_HOSTS=all, `hosts` lists
    every member and kazoo picks one.
    """

    def __init__(self, workdir: Path, size: int = 3, tick_time: int = 500):
        workdir = Path(workdir)
        # Distinct ports: separate free_port() calls may repeat one, and a quorum port is bound only
        # once its member leads, so a clash would show up late and confusingly.
        ports: list[int] = []
        for _ in range(100 * size):
            if len(ports) == 3 * size:
                break
            p = free_port()
            if p not in ports:
                ports.append(p)
        if len(ports) != 3 * size:
            raise RuntimeError("could not find distinct free ports")
        self.members = [
            ZkServer(workdir / f"s{i + 1}", kind="zkserver", tick_time=tick_time, port=ports[3 * i])
            for i in range(size)
        ]
        lines = {f"server.{i + 1}": f"127.0.0.1:{ports[3 * i + 1]}:{ports[3 * i + 2]}" for i in range(size)}
        for i, m in enumerate(self.members):
            m.cfg_extra.update(lines)
            (m.data_dir / "myid").write_text(f"{i + 1}\n")
        self.target: Optional[ZkServer] = None

    def start(self, timeout: float = 60.0):
        for m in self.members:
            m.launch()
        for m in self.members:
            m.wait_ready(timeout)

        def one_leader():
            modes = [mode_of(m) for m in self.members]
            return modes.count("leader") == 1 and modes.count("follower") == len(modes) - 1 and modes

        modes = wait_until(one_leader, timeout, interval=0.1, what="one leader and serving followers")
        self.target = self.members[modes.index("follower")]
        return self

    def stop(self, timeout: float = 20.0):
        for m in self.members:
            m.stop(timeout)

    def _target(self) -> ZkServer:
        if self.target is None:
            raise RuntimeError("ensemble not started")
        return self.target

    @property
    def port(self) -> int:
        return self._target().port

    @property
    def data_dir(self) -> Path:
        return self._target().data_dir

    @property
    def all_hosts(self) -> str:
        return ",".join(m.hosts for m in self.members)

    @property
    def hosts(self) -> str:
        if os.environ.get("ZK_ENSEMBLE_HOSTS", "").strip().lower() == "all":
            return self.all_hosts
        return self._target().hosts

    def four(self, cmd: str) -> str:
        return self._target().four(cmd)

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(f"--- server {i + 1} ---\n{m.log_tail(n)}" for i, m in enumerate(self.members))
