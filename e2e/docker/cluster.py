"""A three-server zkserver ensemble in Docker containers on private networks, driven from the host.

Two networks per cluster, both created here with a unique prefix:

* the *quorum* network carries peer traffic. Each container has a fixed address on it and the alias
  `zk<N>` that zoo.cfg names, so a partition is `docker network disconnect` from this network and
  the heal reconnects the container with the same address.
* the *client* network is how the host reaches each server's client port. It stays connected during
  partitions, so the test can see that an isolated server stops serving instead of merely becoming
  unreachable.

Everything created (containers, their anonymous /data volumes, networks) is removed by name in
`Cluster.destroy`. Nothing is pulled: the image must already exist locally.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

CLIENT_PORT = 2181
DEFAULT_IMAGE = "zkserver:dev"
# Apache ZooKeeper from the host (e2e/docker/apache-image.sh): its JRE and jars are mounted.
APACHE_IMAGE = "zke2e-apache:host"
APACHE_MOUNTS = ("-v", "/usr:/usr:ro", "-v", "/etc/java-17-openjdk:/etc/java-17-openjdk:ro")

# Short ticks so that a lost leader is noticed within syncLimit * tickTime = 2 s, as the
# "new leader within a few seconds" requirement needs; sessions may then be as short as 1 s.
ZOO_CFG = """\
tickTime=500
initLimit=10
syncLimit=4
dataDir=/data
clientPort={client_port}
4lw.commands.whitelist=*
server.1=zk1:2888:3888
server.2=zk2:2888:3888
server.3=zk3:2888:3888
"""

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"


class DockerError(RuntimeError):
    """A docker command failed; carries its arguments and stderr."""


def docker(*args: str, check: bool = True, timeout: float = 60.0) -> str:
    """Runs the docker CLI and returns its stdout (stripped)."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def docker_unusable_reason(image: str) -> Optional[str]:
    """Why these tests cannot run here (no docker CLI, no daemon, no image), or None when they can."""
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    try:
        docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except (DockerError, subprocess.TimeoutExpired) as exc:
        return f"docker daemon not usable: {exc}"
    try:
        docker("image", "inspect", image, timeout=20)
    except DockerError:
        return f"image {image} not built (run e2e/run-docker-tests.sh or scripts/docker-image.sh)"
    return None


def wait_until(cond: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Polls `cond` until it returns something truthy (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the state is settling; remember why it failed
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_exc!r}")
        time.sleep(interval)


def four_letter(host: str, cmd: str, port: int = CLIENT_PORT, timeout: float = 2.0) -> str:
    """Sends a four-letter word and returns the whole answer (read until the server closes)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode(errors="replace")


def mode_of(host: str) -> str:
    """The `Mode:` of a server's `srvr` answer, `not-serving`, or `unreachable`."""
    try:
        text = four_letter(host, "srvr")
    except OSError:
        return "unreachable"
    if NOT_SERVING in text:
        return "not-serving"
    for line in text.splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return "unreachable"


@dataclass
class Member:
    """One container of the ensemble."""

    sid: int
    container: str
    quorum_ip: str
    client_ip: str = ""

    @property
    def client_addr(self) -> str:
        return f"{self.client_ip}:{CLIENT_PORT}"


class Cluster:
    """Creates, starts, kills, partitions and removes the three containers of one ensemble."""

    def __init__(self, image: str = DEFAULT_IMAGE, size: int = 3, apache: bool = False):
        self.image = image
        # Apache's image (APACHE_IMAGE) runs the host's JRE and jars, mounted read-only.
        self.apache = apache
        self.prefix = f"zke2e-{uuid.uuid4().hex[:8]}"
        self.quorum_net = f"{self.prefix}-quorum"
        self.client_net = f"{self.prefix}-client"
        self.size = size
        self.members: dict[int, Member] = {}
        self._networks: list[str] = []
        self._containers: list[str] = []
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))

    # ---- lifecycle -------------------------------------------------------------------------

    def create(self) -> None:
        """Creates both networks and all containers, then starts them."""
        subnet = self._create_network(self.quorum_net, internal=True)
        self._create_network(self.client_net, internal=False)
        base = subnet.rsplit(".", 1)[0]
        cfg = self._workdir / "zoo.cfg"
        cfg.write_text(ZOO_CFG.format(client_port=CLIENT_PORT))
        for sid in range(1, self.size + 1):
            name = f"{self.prefix}-zk{sid}"
            member = Member(sid=sid, container=name, quorum_ip=f"{base}.{10 + sid}")
            docker(
                "create",
                "--name", name,
                "--network", self.quorum_net,
                "--ip", member.quorum_ip,
                "--network-alias", f"zk{sid}",
                "--label", f"zk-e2e={self.prefix}",
                "-e", f"ZKSERVER_LOG={os.environ.get('ZK_E2E_LOG', 'info')}",
                *(APACHE_MOUNTS if self.apache else ()),
                self.image,
            )  # fmt: skip
            self._containers.append(name)
            myid = self._workdir / f"myid{sid}"
            myid.write_text(f"{sid}\n")
            docker("cp", str(cfg), f"{name}:/etc/zookeeper/zoo.cfg")
            docker("cp", str(myid), f"{name}:/data/myid")
            docker("network", "connect", self.client_net, name)
            self.members[sid] = member
        for member in self.members.values():
            docker("start", member.container)
            member.client_ip = self._client_ip(member.container)

    def destroy(self) -> None:
        """Removes the containers (with their volumes) and networks created here, by name."""
        for name in self._containers:
            docker("rm", "-f", "-v", name, check=False)
        for net in self._networks:
            docker("network", "rm", net, check=False)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def logs(self, sid: int, tail: int = 60) -> str:
        proc = subprocess.run(
            ["docker", "logs", "--tail", str(tail), self.members[sid].container],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return proc.stdout + proc.stderr

    def _create_network(self, name: str, internal: bool) -> str:
        """Creates a bridge network on a free random /24 (retrying on overlaps); returns the subnet."""
        last = ""
        for _ in range(20):
            subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
            args = ["network", "create", "--driver", "bridge", "--subnet", subnet, "--label", f"zk-e2e={self.prefix}"]
            if internal:
                args.append("--internal")
            proc = subprocess.run(["docker", *args, name], capture_output=True, text=True, timeout=60)
            if proc.returncode == 0:
                self._networks.append(name)
                return subnet.split("/")[0]
            last = proc.stderr.strip()
            if "overlap" not in last.lower():
                break
        raise DockerError(f"cannot create network {name}: {last}")

    def _client_ip(self, container: str) -> str:
        nets = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", container))
        ip = nets.get(self.client_net, {}).get("IPAddress", "")
        if not ip:
            state = docker("inspect", "--format", "{{.State.Status}} (exit code {{.State.ExitCode}})", container)
            raise DockerError(f"{container} has no address on {self.client_net}; it is {state}")
        return ip

    # ---- faults ----------------------------------------------------------------------------

    def kill(self, sid: int) -> None:
        """SIGKILLs the server process (the container stops; its data volume stays)."""
        docker("kill", "--signal", "KILL", self.members[sid].container)

    def restart(self, sid: int) -> None:
        """Starts a killed container again, on the same addresses."""
        member = self.members[sid]
        docker("start", member.container)
        member.client_ip = self._client_ip(member.container)

    def isolate(self, sid: int) -> None:
        """Cuts a server off from its peers; the host still reaches its client port."""
        docker("network", "disconnect", self.quorum_net, self.members[sid].container)

    def heal(self, sid: int) -> None:
        """Reconnects an isolated server to its peers with its old address and alias."""
        member = self.members[sid]
        docker(
            "network", "connect",
            "--ip", member.quorum_ip,
            "--alias", f"zk{sid}",
            self.quorum_net, member.container,
        )  # fmt: skip

    # ---- observation -----------------------------------------------------------------------

    def modes(self, sids: Optional[list[int]] = None) -> dict[int, str]:
        return {sid: mode_of(self.members[sid].client_ip) for sid in (sids or list(self.members))}

    def leader(self, sids: Optional[list[int]] = None) -> Optional[int]:
        """The one leader among `sids` when the rest follow it, else None."""
        modes = self.modes(sids)
        leaders = [s for s, m in modes.items() if m == "leader"]
        if len(leaders) == 1 and all(m == "follower" for s, m in modes.items() if s != leaders[0]):
            return leaders[0]
        return None

    def wait_for_quorum(self, sids: Optional[list[int]] = None, timeout: float = 30.0) -> int:
        """Waits until one of `sids` leads and the others follow; returns the leader's sid."""
        sids = sids or list(self.members)
        try:
            return wait_until(lambda: self.leader(sids), timeout, f"one leader and {len(sids) - 1} followers among {sids}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; modes now {self.modes(sids)}") from None

    def hosts(self, sids: Optional[list[int]] = None) -> str:
        """A kazoo connection string over the given servers' client addresses."""
        return ",".join(self.members[s].client_addr for s in (sids or list(self.members)))
