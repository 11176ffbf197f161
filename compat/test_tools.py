"""Apache's offline tools read the TARGET's files, and data dirs move between Apache and zkserver."""

import re
import subprocess

import pytest

from conftest import make_client
from zkharness import apache_java_cmd

TOOLKIT = "org.apache.zookeeper.server.persistence.TxnLogToolkit"
FORMATTER = "org.apache.zookeeper.server.SnapshotFormatter"


def run_java(main, args, timeout=120):
    r = subprocess.run(apache_java_cmd(main, args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def by_zxid(paths):
    return sorted(paths, key=lambda p: int(p.name.split(".")[1], 16))


def write_sample(c, n, tag="tool"):
    zxids = {}
    for i in range(n):
        _, st = c.create(f"/{tag}-{i}", f"data-{i}".encode(), include_data=True)
        zxids[f"/{tag}-{i}"] = st.czxid
    return zxids


def test_txn_log_toolkit_dumps_target_log(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts)
    zxids = write_sample(c, 10)
    set_zxid = c.set("/tool-3", b"changed").mzxid
    c.delete("/tool-9")
    sid = c.client_id[0]
    c.stop()
    c.close()
    srv.stop()
    logs = by_zxid(srv.version_dir().glob("log.*"))
    assert logs, "no txn log written"
    text = ""
    for log in logs:
        rc, out, err = run_java(TOOLKIT, ["-d", str(log)])
        assert rc == 0, err[-2000:]
        assert "CRC" not in out + err
        text += out
    assert "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2" in text
    assert re.search(rf"session 0x{sid:x} cxid 0x0 zxid 0x1 createSession 10000", text)
    for i in range(10):
        assert re.search(rf"zxid 0x{zxids[f'/tool-{i}']:x} create2? /tool-{i},data-{i},", text), i
    assert re.search(rf"zxid 0x{set_zxid:x} setData /tool-3,changed,1", text)
    assert re.search(r"zxid 0x[0-9a-f]+ delete '/tool-9", text)
    assert re.search(rf"session 0x{sid:x} .* closeSession", text)


def test_txn_log_readable_after_kill9(fresh_server):
    srv = fresh_server()
    c = make_client(srv.hosts)
    zxids = write_sample(c, 20, "crash")
    srv.kill9()
    c.stop()
    c.close()
    text = ""
    for log in by_zxid(srv.version_dir().glob("log.*")):
        rc, out, err = run_java(TOOLKIT, ["-d", str(log)])
        assert rc == 0, err[-2000:]
        text += out
    for path, zxid in zxids.items():
        assert re.search(rf"zxid 0x{zxid:x} create2? {path},data-", text), path


def test_snapshot_formatter_reads_target_snapshot(fresh_server):
    srv = fresh_server(cfg_extra={"snapCount": "10"}, jvm_flags=["-Dzookeeper.snapCount=10"])
    c = make_client(srv.hosts)
    zxids = write_sample(c, 40, "snap")
    c.stop()
    c.close()
    srv.stop()
    snaps = [p for p in by_zxid(srv.version_dir().glob("snapshot.*")) if int(p.name.split(".")[1], 16) > 0]
    assert snaps, f"no snapshot after 40 writes with snapCount=10: {sorted(srv.version_dir().iterdir())}"
    snap = snaps[-1]
    snap_zxid = int(snap.name.split(".")[1], 16)
    rc, out, err = run_java(FORMATTER, [str(snap)])
    assert rc == 0, err[-2000:]
    m = re.search(r"ZNode Details \(count=(\d+)\):", out)
    assert m
    nodes = re.findall(r"^(/\S*)$", out, re.M)
    assert int(m.group(1)) >= len(nodes)  # Apache's count is its in-memory map size
    assert {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} <= set(nodes)
    for path, zxid in zxids.items():
        if zxid <= snap_zxid:
            assert path in nodes, path
    block = out.split("----\n/snap-0\n", 1)[1].split("----", 1)[0]
    assert "  dataLength = 6" in block and f"  cZxid = 0x{zxids['/snap-0']:014x}" in block
    assert "Session Details" in out


# ---- data-dir cross compatibility (needs both servers) ---------------------------------------------
def dump_tree(c, path="/"):
    out = {}
    data, st = c.get(path)
    acls, _ = c.get_acls(path)
    out[path] = (data, st, [(a.perms, a.id.scheme, a.id.id) for a in acls])
    for child in sorted(c.get_children(path)):
        out.update(dump_tree(c, f"{path.rstrip('/')}/{child}"))
    return out


def populate(c):
    from kazoo.security import make_digest_acl

    c.create("/x/y/z", b"deep", makepath=True)
    c.create("/x/seq-", b"s", sequence=True)
    c.create("/x/seq-", b"s", sequence=True)
    c.delete("/x/seq-0000000001")
    c.set("/x/y", b"v2")
    c.set("/x/y", b"v3")
    c.create("/acl", b"a", acl=[make_digest_acl("u", "pw", all=True)])
    c.add_auth("digest", "u:pw")
    c.set_acls("/acl", [make_digest_acl("u", "pw", read=True, write=True)])
    t = c.transaction()
    t.create("/multi-a", b"1")
    t.create("/multi-b", b"2")
    t.commit()
    for i in range(30):
        c.create(f"/bulk-{i}", bytes([i]) * i)


def cross(fresh_server, tmp_path, writer, reader):
    srv = fresh_server(kind=writer, workdir=tmp_path, cfg_extra={"snapCount": "20"},
                       jvm_flags=["-Dzookeeper.snapCount=20"])
    c = make_client(srv.hosts)
    populate(c)
    c.add_auth("digest", "u:pw")
    before = dump_tree(c)
    c.stop()
    c.close()
    srv.stop()
    srv.kind = reader
    srv.start()
    c = make_client(srv.hosts)
    try:
        c.add_auth("digest", "u:pw")
        after = dump_tree(c)
        assert after.keys() == before.keys()
        for path in before:
            assert after[path] == before[path], path
        # and the reader keeps writing on top of the foreign data
        assert c.create("/x/seq-", sequence=True) == "/x/seq-0000000003"
    finally:
        c.stop()
        c.close()


@pytest.mark.zkserver_only
def test_apache_data_dir_opens_in_target(fresh_server, tmp_path):
    cross(fresh_server, tmp_path, "apache", "zkserver")


@pytest.mark.zkserver_only
def test_target_data_dir_opens_in_apache(fresh_server, tmp_path):
    cross(fresh_server, tmp_path, "zkserver", "apache")
