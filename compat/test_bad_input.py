"""Raw-socket abuse: malformed/truncated frames, oversize and negative lengths, unknown opcodes, garbage.
The offending connection is closed (or gets Apache's error reply) and other sessions keep working."""

import os
import socket
import struct

import pytest

from zkwire import OP_CREATE, OP_GETDATA, OP_PING, Out, RawConn

MAXBUF = 0xFFFFF


@pytest.fixture
def healthy(kz, prefix):
    """Asserts after the test that an unrelated kazoo session still reads and writes."""
    kz.create(prefix, b"ok")
    yield
    assert kz.get(prefix)[0] == b"ok"
    kz.set(prefix, b"ok")


def test_oversize_connect_frame_is_closed(zk, healthy):
    with RawConn(zk.port) as c:
        c.send_raw(struct.pack("!i", MAXBUF + 1) + b"\0" * 64)
        assert c.closed_by_server()


def test_negative_length_is_closed(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        c.send_raw(struct.pack("!i", -5) + b"\0" * 16)
        assert c.closed_by_server()


def test_oversize_request_after_connect_is_closed(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        c.send_raw(struct.pack("!i", MAXBUF + 1))
        assert c.closed_by_server()


def test_garbage_instead_of_connect_is_closed(zk, healthy):
    with RawConn(zk.port) as c:
        c.send_frame(os.urandom(7))  # too short to be a ConnectRequest
        assert c.closed_by_server()


def test_truncated_request_header_is_closed(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        c.send_frame(b"\x00\x00\x00\x01")  # xid only, no opcode
        assert c.closed_by_server()


def test_truncated_record_gets_error_or_close(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        body = Out().str("/some/path").bytes()[:6]  # string length says 10, only 2 bytes follow
        c.send_frame(struct.pack("!ii", 1, OP_CREATE) + body)
        try:
            rep = c.read_reply()
        except (ConnectionError, socket.timeout, OSError):
            return
        assert rep.xid == 1 and rep.err != 0


def test_string_length_beyond_frame_gets_error_or_close(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        c.send_frame(struct.pack("!ii", 1, OP_GETDATA) + struct.pack("!i", 0x7FFFFFF0) + b"/x")
        try:
            rep = c.read_reply()
        except (ConnectionError, socket.timeout, OSError):
            return
        assert rep.xid == 1 and rep.err != 0


@pytest.mark.parametrize("op", [10, 23, 99, 1000, -77])
def test_unknown_opcode_gets_unimplemented_then_close(zk, healthy, op):
    with RawConn(zk.port) as c:
        c.connect()
        rep = c.request(op, b"")
        assert (rep.xid, rep.err) == (1, -6)  # UNIMPLEMENTED, then Apache drops the connection
        assert c.closed_by_server()


def test_trailing_garbage_after_connect_request(zk, healthy):
    with RawConn(zk.port) as c:
        o = Out().int(0).long(0).int(10000).long(0).buf(b"\0" * 16).bool(False)
        c.send_frame(o.bytes() + b"\xde\xad\xbe\xef" * 4)
        # Apache ignores bytes after the optional readOnly flag; either way no crash and no hang
        try:
            c.sock.settimeout(10)
            c.recv_frame()
        except (ConnectionError, OSError):
            pass


def test_half_frame_then_disconnect(zk, healthy):
    with RawConn(zk.port) as c:
        c.connect()
        c.send_raw(struct.pack("!i", 100) + b"\0" * 10)
    # nothing to assert on the dead socket; `healthy` checks the server is fine


def test_too_many_connections_from_one_address(fresh_server):
    srv = fresh_server(cfg_extra={"maxClientCnxns": "2"})
    a, b = RawConn(srv.port), RawConn(srv.port)
    try:
        assert a.connect().timeout > 0
        assert b.connect().timeout > 0
        with RawConn(srv.port) as extra:
            try:
                extra.connect()
                refused = False
            except (ConnectionError, OSError, struct.error):
                refused = True
            assert refused or extra.closed_by_server()
        # the first two are untouched
        assert a.request(OP_PING, b"", xid=-2).err == 0
        assert b.request(OP_PING, b"", xid=-2).err == 0
    finally:
        a.close()
        b.close()
