"""Apache's C client shell (cli_mt) driven line by line over a pipe; each command waits for its own answer."""

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from zkharness import wait_until

CLI_MT = Path("/usr/lib/zookeeper/bin/cli_mt")
pytestmark = pytest.mark.skipif(not CLI_MT.exists(), reason="C client cli_mt not installed")


class CShell:
    """cli_mt under stdbuf (unbuffered) so its asynchronous output can be awaited line by line."""

    def __init__(self, hosts):
        cmd = [str(CLI_MT), hosts]
        if shutil.which("stdbuf"):
            cmd = ["stdbuf", "-o0", "-e0", *cmd]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, bufsize=1)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.lines)

    def wait(self, pattern, since=0, timeout=20.0) -> re.Match:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                text = "\n".join(self.lines[since:])
                m = re.search(pattern, text, re.M)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"cli_mt never printed {pattern!r}; output:\n{text}")
                self.cond.wait(left)

    def run(self, line, pattern, timeout=20.0) -> re.Match:
        since = self.mark()
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.wait(pattern, since, timeout)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait(5)


@pytest.fixture
def cshell(zk):
    sh = CShell(zk.hosts)
    sh.wait(r"Watcher SESSION_EVENT state = CONNECTED_STATE")
    sh.wait(r"Got a new session id: 0x[0-9a-f]+")
    yield sh
    sh.close()


def q(s):
    return re.escape(s)


def test_create_get_set(cshell, kz, prefix):
    cshell.run(f"create {prefix}", rf"^\[{q(prefix)}\]: rc = 0\n\tname = {q(prefix)}$")
    m = cshell.run(f"get {prefix}", rf"^{q(prefix)}: rc = 0\n value_len = 3\nnew\nStat:\n(?P<stat>(\t.*\n?){{6}})")
    st = kz.exists(prefix)
    assert f"\tczxid={st.czxid:x}" in m["stat"] and "\tversion=0\taversion=0" in m["stat"]
    assert "\tephemeralOwner = 0" in m["stat"]
    m = cshell.run(f"set {prefix} newdata", rf"^{q(prefix)}: rc = 0 Stat:\n(?P<stat>(\t.*\n?){{6}})")
    assert "\tversion=1\taversion=0" in m["stat"]
    assert kz.get(prefix)[0] == b"newdata"
    cshell.wait(rf"^Watcher CHANGED_EVENT state = CONNECTED_STATE for path {q(prefix)}$")  # get left a watch
    cshell.run(f"get {prefix}", rf"^{q(prefix)}: rc = 0\n value_len = 7\nnewdata$")


def test_create_modes(cshell, kz, prefix):
    cshell.run(f"create {prefix}", rf"^\[{q(prefix)}\]: rc = 0")
    cshell.run(f"create +e {prefix}/e", rf"^\[{q(prefix)}/e\]: rc = 0\n\tname = {q(prefix)}/e$")
    cshell.run(f"create +s {prefix}/s-", rf"^\[{q(prefix)}/s-\]: rc = 0\n\tname = {q(prefix)}/s-0000000001$")
    cshell.run(f"create +es {prefix}/es-", rf"name = {q(prefix)}/es-0000000002$")
    cshell.run(f"create +c {prefix}/c", rf"^\[{q(prefix)}/c\]: rc = 0")
    cshell.run(f"create +t=600000 {prefix}/t", rf"^\[{q(prefix)}/t\]: rc = 0")
    assert kz.exists(f"{prefix}/e").ephemeralOwner != 0
    assert kz.exists(f"{prefix}/es-0000000002").ephemeralOwner == kz.exists(f"{prefix}/e").ephemeralOwner
    assert kz.exists(f"{prefix}/c").ephemeralOwner == 0 and kz.exists(f"{prefix}/t") is not None
    m = cshell.run(f"ls {prefix}", rf"^{q(prefix)}: rc = 0\n(?P<kids>(\t.*\n?){{5}})")
    assert sorted(k.strip() for k in m["kids"].splitlines()) == sorted(kz.get_children(prefix))
    cshell.close()
    wait_until(lambda: kz.exists(f"{prefix}/e") is None, 20, what="C session's ephemerals to go on quit")
    assert kz.exists(f"{prefix}/es-0000000002") is None


def test_errors(cshell, kz, prefix):
    cshell.run(f"create {prefix}", rf"^\[{q(prefix)}\]: rc = 0")
    cshell.run(f"create {prefix}/c", rf"^\[{q(prefix)}/c\]: rc = 0")
    cshell.run(f"create {prefix}", rf"^\[{q(prefix)}\]: rc = -110$")
    cshell.run(f"delete {prefix}", rf"^{q(prefix)}: rc = -111$")
    cshell.run(f"get {prefix}/nope", rf"^{q(prefix)}/nope: rc = -101$")
    cshell.run(f"delete {prefix}/nope", rf"^{q(prefix)}/nope: rc = -101$")
    cshell.run(f"create {prefix}/no/parent", rf"^\[{q(prefix)}/no/parent\]: rc = -101$")
    cshell.run(f"delete {prefix}/c", rf"^{q(prefix)}/c: rc = 0$")
    assert kz.exists(f"{prefix}/c") is None


def test_exists_watches_and_sync(cshell, kz, prefix):
    kz.create(prefix)
    cshell.run(f"wexists {prefix}/w", rf"Error -101 for {q(prefix)}/w")
    kz.create(f"{prefix}/w")
    cshell.wait(rf"^Watcher CREATED_EVENT state = CONNECTED_STATE for path {q(prefix)}/w$")
    cshell.run(f"exists {prefix}/none", rf"Error -101 for {q(prefix)}/none")
    cshell.run(f"sync {prefix}", rf"{q(prefix)}.*rc = 0")
    # ls2 prints the children, then the parent's Stat
    m = cshell.run(f"ls2 {prefix}", r"^\tw\ntime = \d+ msec\n(\t.*\n)*?\tczxid=(?P<czxid>[0-9a-f]+)\n\tmtime=.*\n\tmzxid=(?P<mzxid>[0-9a-f]+)")
    st = kz.exists(prefix)
    assert (int(m["czxid"], 16), int(m["mzxid"], 16)) == (st.czxid, st.mzxid)  # printed in hex


def test_config_and_myid(cshell, kz):
    m = cshell.run("myid", r"^session Id = (?P<sid>[0-9a-f]+)$")
    assert int(m["sid"], 16) != 0
    m = cshell.run("config", r"^/zookeeper/config: rc = 0\n value_len = (?P<n>\d+)")
    assert int(m["n"]) == kz.exists("/zookeeper/config").dataLength
    cshell.wait(r"aversion=ffffffff")
