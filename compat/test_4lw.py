"""Four-letter words: answers in Apache's text shape, whitelist refusals.

Watch/session-sensitive commands run on a dedicated server so the counts are exact.
"""

import re
from pathlib import Path

import pytest

from zkharness import is_ensemble, serving_modes
from zkwire import OP_CREATE, OP_GETCHILDREN, OP_GETDATA, Out, RawConn, create_body

SRVR_LINES = [
    r"Zookeeper version: \S.*",
    r"Latency min/avg/max: \d+/\d+(\.\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: (" + "|".join(serving_modes()) + ")",
    r"Node count: \d+",
]
CONS_LINE = re.compile(r" /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+(,.*)?\)")
MNTR_CORE = [
    "zk_version", "zk_server_state", "zk_ephemerals_count", "zk_num_alive_connections", "zk_avg_latency",
    "zk_max_latency", "zk_min_latency", "zk_packets_received", "zk_packets_sent", "zk_outstanding_requests",
    "zk_znode_count", "zk_watch_count", "zk_approximate_data_size", "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count", "zk_global_sessions", "zk_local_sessions", "zk_uptime",
    "zk_last_client_response_size", "zk_max_client_response_size", "zk_min_client_response_size",
    "zk_auth_failed_count", "zk_connection_drop_probability", "zk_outstanding_tls_handshake",
    "zk_throttled_ops", "zk_digest_mismatches_count", "zk_connection_rejected",
]


def _fields(text):
    out = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k] = v
    return out


def _mntr(text):
    pairs = [line.split("\t") for line in text.splitlines() if line]
    assert all(len(p) == 2 for p in pairs), pairs
    return dict(pairs)


def test_ruok(zk):
    assert zk.four("ruok") == "imok"


def test_srvr_shape(zk, kz, prefix):
    st = kz.create(prefix, include_data=True)[1]
    text = zk.four("srvr")
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == len(SRVR_LINES), text
    for pat, line in zip(SRVR_LINES, lines):
        assert re.fullmatch(pat, line), (pat, line)
    assert int(_fields(text)["Zxid"], 16) >= st.czxid
    assert text.endswith("\n")


def test_stat_shape(zk, kz):
    text = zk.four("stat")
    lines = text.split("\n")
    assert re.fullmatch(SRVR_LINES[0], lines[0])
    assert lines[1] == "Clients:"
    i = 2
    while lines[i]:
        assert CONS_LINE.fullmatch(lines[i]), lines[i]
        i += 1
    assert i > 2
    rest = lines[i + 1 : i + 1 + len(SRVR_LINES) - 1]
    for pat, line in zip(SRVR_LINES[1:], rest):
        assert re.fullmatch(pat, line), (pat, line)


def test_conf_shape(zk):
    conf = dict(line.split("=", 1) for line in zk.four("conf").splitlines() if "=" in line)
    assert conf["clientPort"] == str(zk.port)
    assert Path(conf["dataDir"]) == zk.data_dir / "version-2"
    assert Path(conf["dataLogDir"]) == zk.data_dir / "version-2"
    assert conf["tickTime"] == "500"
    assert conf["maxClientCnxns"] == "60"
    assert conf["minSessionTimeout"] == "1000"
    assert conf["maxSessionTimeout"] == "60000"
    # standalone reports 0; an ensemble member its myid (1..3)
    assert conf["serverId"] in (("1", "2", "3") if is_ensemble() else ("0",))
    assert {"secureClientPort", "dataDirSize", "dataLogSize", "clientPortListenBacklog"} <= set(conf)


def test_cons_lists_session_connections(zk, kz):
    if zk.hosts != f"127.0.0.1:{zk.port}":
        pytest.skip("the client may sit on another ensemble member than the one asked (ZK_ENSEMBLE_HOSTS=all)")
    sid = kz.client_id[0]
    text = zk.four("cons")
    lines = [line for line in text.split("\n") if line]
    assert all(CONS_LINE.fullmatch(line) for line in lines), text
    mine = [line for line in lines if f"sid=0x{sid:x}," in line]
    assert len(mine) == 1
    for key in ("lop=", "est=", "to=10000", "lcxid=0x", "lzxid=0x", "lresp=", "llat=", "minlat=", "avglat=", "maxlat="):
        assert key in mine[0], (key, mine[0])
    assert text.endswith("\n\n")


def test_mntr_core_keys_and_values(zk, kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/e", ephemeral=True)
    m = _mntr(zk.four("mntr"))
    for key in MNTR_CORE:
        assert key in m, key
    assert m["zk_server_state"] in serving_modes()
    assert int(m["zk_ephemerals_count"]) >= 1
    assert int(m["zk_znode_count"]) >= 7
    assert int(m["zk_num_alive_connections"]) >= 1
    float(m["zk_avg_latency"])
    assert m["zk_version"] == _fields(zk.four("srvr"))["Zookeeper version"]


def test_mntr_has_every_apache_38_key(zk):
    want = Path(__file__).with_name("data").joinpath("mntr_keys_apache_3.8.txt").read_text().split()
    have = set(_mntr(zk.four("mntr")))
    missing = [k for k in want if k not in have]
    assert not missing, f"{len(missing)} keys missing, e.g. {missing[:20]}"


def test_envi_shape(zk):
    text = zk.four("envi")
    lines = text.splitlines()
    assert lines[0] == "Environment:"
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    for key in ("zookeeper.version", "host.name", "java.version", "os.name", "user.dir", "user.name"):
        assert key in env, key


def test_dirs_isro_and_resets(zk):
    assert re.fullmatch(r"datadir_size: \d+\nlogdir_size: \d+\n", zk.four("dirs"))
    assert zk.four("isro") == "rw"
    assert zk.four("crst") == "Connection stats reset.\n"
    assert zk.four("srst") == "Server stats reset.\n"
    after = _fields(zk.four("srvr"))
    assert after["Latency min/avg/max"] == "0/0.0/0"
    assert int(after["Received"]) <= 2


def test_unknown_word_gets_no_answer(zk):
    assert zk.four("xxxx") == ""


def _getdata(path, watch=True):
    return Out().str(path).bool(watch).bytes()


def test_watch_and_session_dumps(fresh_server):
    srv = fresh_server()
    with RawConn(srv.port) as a, RawConn(srv.port) as b:
        ha, hb = a.connect(), b.connect()
        assert a.request(OP_CREATE, create_body("/w1", b"x")).err == 0
        assert a.request(OP_CREATE, create_body("/w2", b"x")).err == 0
        assert a.request(OP_CREATE, create_body("/eph", flags=1)).err == 0
        assert a.request(OP_GETDATA, _getdata("/w1")).err == 0
        assert a.request(OP_GETDATA, _getdata("/w2")).err == 0
        assert b.request(OP_GETDATA, _getdata("/w1")).err == 0
        assert b.request(OP_GETCHILDREN, _getdata("/")).err == 0
        # Apache's wchs/wchc/wchp summarise data watches only (the child watch on "/" is not listed)
        assert srv.four("wchs") == "2 connections watching 2 paths\nTotal watches:3\n"
        wchc = srv.four("wchc")
        sa, sb = f"0x{ha.session_id:x}", f"0x{hb.session_id:x}"
        blocks = {blk.split("\n")[0]: set(blk.split("\n")[1:]) for blk in wchc.strip("\n").split("\n0x")}
        blocks = {("0x" + k.removeprefix("0x")): v for k, v in blocks.items()}
        assert blocks == {sa: {"\t/w1", "\t/w2"}, sb: {"\t/w1"}}
        wchp = srv.four("wchp")
        paths = {}
        cur = None
        for line in wchp.splitlines():
            if line.startswith("\t"):
                paths[cur].add(line[1:])
            elif line:
                cur = line
                paths[cur] = set()
        assert paths == {"/w1": {sa, sb}, "/w2": {sa}}
        dump = srv.four("dump")
        assert dump.startswith("SessionTracker dump:\n")
        assert "ephemeral nodes dump:" in dump
        assert re.search(rf"{sa}:\n\t/eph\n", dump), dump
        assert "Connections dump:" in dump
        m = _mntr(srv.four("mntr"))
        assert (m["zk_watch_count"], m["zk_ephemerals_count"], m["zk_global_sessions"]) == ("4", "1", "2")
        srvr = _fields(srv.four("srvr"))
        assert srvr["Node count"] == "8"  # 5 built-in entries + 3 created
        assert m["zk_znode_count"] == "8"


def test_commands_outside_whitelist_are_refused(fresh_server):
    srv = fresh_server(cfg_extra={"4lw.commands.whitelist": "ruok, srvr"})
    assert srv.four("ruok") == "imok"
    assert srv.four("srvr").startswith("Zookeeper version: ")
    for cmd in ("stat", "mntr", "conf", "cons", "dump", "wchs", "envi", "srst"):
        assert srv.four(cmd) == f"{cmd} is not executed because it is not in the whitelist.\n"


@pytest.mark.parametrize("cmd", ["ruok", "srvr", "stat", "conf", "cons", "mntr", "envi", "wchs", "wchc", "wchp",
                                 "dump", "dirs", "isro", "crst", "srst"])
def test_every_word_answers_and_closes(zk, cmd):
    text = zk.four(cmd)
    assert text, cmd
