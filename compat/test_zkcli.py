"""Apache's Java CLI (zkCli.sh) scripted through stdin against the target; assertions on printed output."""

import re
import shutil
import subprocess

import pytest

from zkharness import APACHE_BIN, wait_until

ZKCLI = APACHE_BIN / "zkCli.sh"
pytestmark = pytest.mark.skipif(not ZKCLI.exists() or not shutil.which("java"), reason="zkCli.sh/java not installed")

STAT_KEYS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
             "ephemeralOwner", "dataLength", "numChildren"]


def zkcli(zk, script: str, timeout: float = 90) -> str:
    """Runs one zkCli session fed by `script`; returns stdout+stderr without SLF4J noise."""
    r = subprocess.run([str(ZKCLI), "-server", zk.hosts], input=script + "\nquit\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return "\n".join(line for line in r.stdout.splitlines() if not line.startswith("SLF4J"))


def stat_blocks(text: str) -> list:
    """Every printed Stat, as dicts in print order (asserting Apache's exact key order)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("cZxid = "):
            block = lines[i : i + len(STAT_KEYS)]
            assert [b.split(" = ")[0] for b in block] == STAT_KEYS, block
            out.append({b.split(" = ")[0]: b.split(" = ", 1)[1] for b in block})
    return out


def test_connects_and_sees_sync_connected(zk):
    connected = "WatchedEvent state:SyncConnected type:None path:null"
    out = zkcli(zk, "ls /")
    assert connected in out
    # zkCli prints watcher events from its event thread while the main thread prints the
    # listing; with the shared server's long root listing the two were seen to interleave
    # mid-line (once in CI). Take the event's lines out before reading the listing.
    listing = "".join(out.replace("WATCHER::", "").replace(connected, "").splitlines())
    lists = re.findall(r"\[([^\[\]]*)\]", listing)
    assert any("zookeeper" in [n.strip() for n in g.split(",")] for g in lists), out


def test_create_get_s_set_stat(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix} hello\nget -s {prefix}\nset {prefix} world\nstat {prefix}\nset -v 9 {prefix} x")
    assert f"Created {prefix}" in out
    assert re.search(r"^hello$", out, re.M)
    first, second = stat_blocks(out)
    st = kz.exists(prefix)
    assert first["cZxid"] == hex(st.czxid) and first["dataVersion"] == "0" and first["dataLength"] == "5"
    assert first["ephemeralOwner"] == "0x0" and first["numChildren"] == "0" and first["pZxid"] == first["cZxid"]
    assert second["dataVersion"] == "1" and second["mZxid"] == hex(st.mzxid)
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}", first["ctime"])
    assert "version No is not valid" in out
    assert kz.get(prefix)[0] == b"world"


def test_create_modes(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix}\ncreate -e {prefix}/eph x\ncreate -s {prefix}/q- x\ncreate -s {prefix}/q- y\n"
                    f"create -e -s {prefix}/es- z\ncreate -c {prefix}/cont\ncreate -t 600000 {prefix}/ttl x\n"
                    f"stat {prefix}/eph\ngetEphemerals {prefix}")
    for p in (f"{prefix}/eph", f"{prefix}/q-0000000001", f"{prefix}/q-0000000002", f"{prefix}/es-0000000003",
              f"{prefix}/cont", f"{prefix}/ttl"):
        assert f"Created {p}" in out, p
    (eph,) = stat_blocks(out)
    assert eph["ephemeralOwner"] != "0x0"
    assert re.search(rf"^\[{re.escape(prefix)}/(eph|es-0000000003), {re.escape(prefix)}/(eph|es-0000000003)\]$",
                     out, re.M), out
    assert kz.exists(f"{prefix}/eph") is None  # the CLI session closed: its ephemerals are gone
    assert kz.exists(f"{prefix}/ttl") is not None and kz.exists(f"{prefix}/cont") is not None


def test_ttl_via_cli_expires(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix}\ncreate -t 500 {prefix}/t x")
    assert f"Created {prefix}/t" in out
    wait_until(lambda: kz.exists(f"{prefix}/t") is None, 30, what="TTL node created by zkCli to expire")


def test_ls_s_and_ls_r(zk, prefix):
    out = zkcli(zk, f"create {prefix}\ncreate {prefix}/a\ncreate {prefix}/a/b\ncreate {prefix}/c\n"
                    f"ls -s {prefix}\nls -R {prefix}")
    assert re.search(r"^\[(a, c|c, a)\]$", out, re.M)
    (st,) = stat_blocks(out)
    assert st["numChildren"] == "2" and st["cversion"] == "2"
    tree = [line for line in out.splitlines() if line.startswith(prefix)]
    assert tree == [prefix, f"{prefix}/a", f"{prefix}/c", f"{prefix}/a/b"]


def test_delete_deleteall_and_errors(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix}\ncreate {prefix}/c\ndelete {prefix}\ndelete {prefix}/nope\n"
                    f"get {prefix}/nope\ncreate {prefix}\ncreate {prefix}/x/y\ncreate {prefix}/bad/\n"
                    f"deleteall {prefix}\nls {prefix}")
    assert f"Node not empty: {prefix}" in out
    assert out.count(f"Node does not exist: {prefix}/nope") == 2
    assert f"Node already exists: {prefix}" in out
    assert f"Node does not exist: {prefix}/x/y" in out
    assert "Path must not end with / character" in out
    assert f"Node does not exist: {prefix}\n" in out + "\n"
    assert kz.exists(prefix) is None


def test_acl_commands(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix}\naddauth digest u:pw\nsetAcl {prefix} auth:u:pw:cdrwa\ngetAcl {prefix}\n"
                    f"create {prefix}/open\nsetAcl {prefix}/open world:anyone:r\ngetAcl {prefix}/open")
    assert "'digest,'u:BvFaefuhWURhnvpD7ipe45CKTpk=\n: cdrwa" in out
    assert "'world,'anyone\n: r" in out
    denied = zkcli(zk, f"getAcl {prefix}\nget {prefix}\nset {prefix} x\ncreate {prefix}/y\nls {prefix}")
    assert denied.count(f"Insufficient permission : {prefix}") == 5
    assert kz.get_acls(f"{prefix}/open")[1].aversion == 1


def test_whoami(zk):
    out = zkcli(zk, "whoami\naddauth digest u:pw\nwhoami")
    blocks = out.split("Auth scheme: User")
    assert len(blocks) == 3
    assert "ip: 127.0.0.1" in blocks[1] and "digest" not in blocks[1]
    assert "digest: u" in blocks[2] and "ip: 127.0.0.1" in blocks[2]


def test_quota_commands(zk, kz, prefix):
    out = zkcli(zk, f"create {prefix} d\ncreate {prefix}/c\nlistquota {prefix}\nsetquota -n 3 {prefix}\n"
                    f"listquota {prefix}")
    assert f"quota for {prefix} does not exist." in out
    assert f"Output quota for {prefix} count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" in out
    assert f"Output stat for {prefix} count=2,bytes=1" in out
    # the limits text is written by zkCli itself (3.8's StatsTrack format), the server just stores it
    assert kz.get(f"/zookeeper/quota{prefix}/zookeeper_limits")[0].startswith(b"count=3,bytes=-1")
    assert kz.get(f"/zookeeper/quota{prefix}/zookeeper_stats")[0] == b"count=2,bytes=1"
    kz.create(f"{prefix}/more", b"12345")
    assert kz.get(f"/zookeeper/quota{prefix}/zookeeper_stats")[0] == b"count=3,bytes=6"
    out = zkcli(zk, f"delquota {prefix}\nlistquota {prefix}\nsetquota -N 5 {prefix}\nlistquota {prefix}\n"
                    f"delquota {prefix}\nlistquota {prefix}")
    assert f"Output quota for {prefix} count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5" in out
    assert out.count(f"quota for {prefix} does not exist.") == 2
    assert kz.exists(f"/zookeeper/quota{prefix}/zookeeper_limits") is None


def test_config_sync_counts(zk, prefix):
    out = zkcli(zk, f"create {prefix}\ncreate {prefix}/a\ncreate {prefix}/a/b\nconfig\nsync {prefix}\n"
                    f"getAllChildrenNumber {prefix}")
    assert "Sync is OK" in out
    assert re.search(r"^2$", out, re.M)


def test_add_watch_persistent_recursive(zk, kz, prefix):
    kz.create(prefix)
    out = zkcli(zk, f"addWatch -m PERSISTENT_RECURSIVE {prefix}\ncreate {prefix}/x\nset {prefix}/x 1\n"
                    f"delete {prefix}/x\nsync {prefix}")
    assert f"WatchedEvent state:SyncConnected type:NodeCreated path:{prefix}/x" in out
    assert f"WatchedEvent state:SyncConnected type:NodeDataChanged path:{prefix}/x" in out
    assert f"WatchedEvent state:SyncConnected type:NodeDeleted path:{prefix}/x" in out
    assert "NodeChildrenChanged" not in out


def test_one_shot_command_arguments(zk, kz, prefix):
    r = subprocess.run([str(ZKCLI), "-server", zk.hosts, "create", prefix, "argdata"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=90)
    assert f"Created {prefix}" in r.stdout
    assert kz.get(prefix)[0] == b"argdata"


def test_hard_count_quota_enforced(fresh_server):
    from kazoo.exceptions import QuotaExceededError

    from conftest import make_client

    srv = fresh_server(jvm_flags=["-Dzookeeper.enforceQuota=true"])
    out = zkcli(srv, "create /q\nsetquota -N 2 /q\nlistquota /q")
    assert "countHardLimit=2" in out
    c = make_client(srv.hosts)
    try:
        c.create("/q/a")  # /q itself counts: 2 of 2
        with pytest.raises(QuotaExceededError):
            c.create("/q/b")
        assert c.get_children("/q") == ["a"]
    finally:
        c.stop()
        c.close()
