"""A tiny, independent jute/ZooKeeper wire client, plus raw requests injected through kazoo.

Kazoo 2.11 has no API for TTL/container creates, addWatch, removeWatches, multiRead, getEphemerals,
getAllChildrenNumber or whoAmI; rather than skipping those features we send their records ourselves. The
record layouts follow the ZooKeeper 3.9 protocol (see shared/zk-protocol-facts.md).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import namedtuple
from typing import Optional

from kazoo.exceptions import EXCEPTIONS
from kazoo.protocol.states import ZnodeStat

# ---- opcodes / constants -------------------------------------------------------------------------
OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_GETACL, OP_SETACL, OP_GETCHILDREN, OP_SYNC, OP_PING = 6, 7, 8, 9, 11
OP_GETCHILDREN2, OP_CHECK, OP_MULTI, OP_CREATE2, OP_RECONFIG = 12, 13, 14, 15, 16
OP_CHECKWATCHES, OP_REMOVEWATCHES, OP_CREATECONTAINER, OP_CREATETTL, OP_MULTIREAD = 17, 18, 19, 21, 22
OP_AUTH, OP_SETWATCHES, OP_GETEPHEMERALS, OP_GETALLCHILDRENNUMBER = 100, 101, 103, 104
OP_SETWATCHES2, OP_ADDWATCH, OP_WHOAMI, OP_CLOSE = 105, 106, 107, -11

WATCHER_CHILDREN, WATCHER_DATA, WATCHER_ANY, WATCHER_PERSISTENT, WATCHER_PERSISTENT_RECURSIVE = 1, 2, 3, 4, 5
ADD_WATCH_PERSISTENT, ADD_WATCH_PERSISTENT_RECURSIVE = 0, 1

EV_CREATED, EV_DELETED, EV_CHANGED, EV_CHILD = 1, 2, 3, 4

OPEN_ACL = [(31, "world", "anyone")]
STAT = struct.Struct("!qqqqiiiqiiq")


# ---- jute encoding -------------------------------------------------------------------------------
class Out:
    """Jute writer (big-endian; -1 lengths for null)."""

    def __init__(self):
        self.b = bytearray()

    def int(self, v: int) -> "Out":
        self.b += struct.pack("!i", v)
        return self

    def long(self, v: int) -> "Out":
        self.b += struct.pack("!q", v)
        return self

    def bool(self, v: bool) -> "Out":
        self.b += b"\x01" if v else b"\x00"
        return self

    def buf(self, v: Optional[bytes]) -> "Out":
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def str(self, v: Optional[str]) -> "Out":
        return self.buf(None if v is None else v.encode())

    def strs(self, vs) -> "Out":
        self.int(len(vs))
        for v in vs:
            self.str(v)
        return self

    def acls(self, acls) -> "Out":
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).str(scheme).str(ident)
        return self

    def bytes(self) -> bytes:
        return bytes(self.b)


class In:
    """Jute reader over one frame."""

    def __init__(self, data: bytes, off: int = 0):
        self.d = data
        self.o = off

    def int(self) -> int:
        (v,) = struct.unpack_from("!i", self.d, self.o)
        self.o += 4
        return v

    def long(self) -> int:
        (v,) = struct.unpack_from("!q", self.d, self.o)
        self.o += 8
        return v

    def bool(self) -> bool:
        v = self.d[self.o]
        self.o += 1
        return v != 0

    def buf(self) -> Optional[bytes]:
        n = self.int()
        if n < 0:
            return None
        v = self.d[self.o : self.o + n]
        self.o += n
        return bytes(v)

    def str(self) -> Optional[str]:
        v = self.buf()
        return None if v is None else v.decode()

    def strs(self) -> list:
        n = self.int()
        return [self.str() for _ in range(max(n, 0))]

    def stat(self) -> ZnodeStat:
        v = ZnodeStat._make(STAT.unpack_from(self.d, self.o))
        self.o += STAT.size
        return v

    def acls(self) -> list:
        n = self.int()
        return [(self.int(), self.str(), self.str()) for _ in range(max(n, 0))]

    def remaining(self) -> int:
        return len(self.d) - self.o


def create_body(path: str, data: bytes = b"", acl=OPEN_ACL, flags: int = 0, ttl: Optional[int] = None) -> bytes:
    o = Out().str(path).buf(data).acls(acl).int(flags)
    if ttl is not None:
        o.long(ttl)
    return o.bytes()


# ---- raw requests through kazoo (so watches and sessions stay kazoo's) ---------------------------
class _Raw:
    """Base for requests kazoo does not know; `kazoo_call` queues them on the client's connection."""

    watcher = None

    def serialize(self):
        return self.body


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl"), _Raw):
    type = OP_CREATETTL

    def serialize(self):
        return create_body(self.path, self.data, self.acl, self.flags, self.ttl)

    @classmethod
    def deserialize(cls, b, off):
        r = In(b, off)
        return r.str(), r.stat()


class CreateContainer(namedtuple("CreateContainer", "path data acl"), _Raw):
    type = OP_CREATECONTAINER

    def serialize(self):
        return create_body(self.path, self.data, self.acl, 4)

    @classmethod
    def deserialize(cls, b, off):
        r = In(b, off)
        return r.str(), r.stat()


class RawCreate(namedtuple("RawCreate", "path data acl flags"), _Raw):
    """create (op 1) with arbitrary flags, e.g. invalid ones."""

    type = OP_CREATE

    def serialize(self):
        return create_body(self.path, self.data, self.acl, self.flags)

    @classmethod
    def deserialize(cls, b, off):
        return In(b, off).str()


class AddWatch(namedtuple("AddWatch", "path mode"), _Raw):
    type = OP_ADDWATCH

    def serialize(self):
        return Out().str(self.path).int(self.mode).bytes()

    @classmethod
    def deserialize(cls, b, off):
        return In(b, off).int()


class RemoveWatches(namedtuple("RemoveWatches", "path wtype"), _Raw):
    type = OP_REMOVEWATCHES

    def serialize(self):
        return Out().str(self.path).int(self.wtype).bytes()

    @classmethod
    def deserialize(cls, b, off):
        return True


class CheckWatches(namedtuple("CheckWatches", "path wtype"), _Raw):
    type = OP_CHECKWATCHES

    def serialize(self):
        return Out().str(self.path).int(self.wtype).bytes()

    @classmethod
    def deserialize(cls, b, off):
        return True


class GetEphemerals(namedtuple("GetEphemerals", "prefix"), _Raw):
    type = OP_GETEPHEMERALS

    def serialize(self):
        return Out().str(self.prefix).bytes()

    @classmethod
    def deserialize(cls, b, off):
        return In(b, off).strs()


class GetAllChildrenNumber(namedtuple("GetAllChildrenNumber", "path"), _Raw):
    type = OP_GETALLCHILDRENNUMBER

    def serialize(self):
        return Out().str(self.path).bytes()

    @classmethod
    def deserialize(cls, b, off):
        return In(b, off).int()


class WhoAmI(namedtuple("WhoAmI", ""), _Raw):
    type = OP_WHOAMI

    def __bool__(self):  # an empty tuple is falsy, and kazoo drops replies to falsy requests
        return True

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, b, off):
        r = In(b, off)
        n = r.int()
        return [(r.str(), r.str()) for _ in range(max(n, 0))]


def multi_body(ops) -> bytes:
    """ops: list of (opcode, body bytes); adds MultiHeaders and the terminator."""
    o = Out()
    for op, body in ops:
        o.int(op).bool(False).int(-1)
        o.b += body
    o.int(-1).bool(True).int(-1)
    return o.bytes()


def parse_multi(b: bytes, off: int = 0) -> list:
    """Returns [(type, err, result)] where result depends on type (None for delete/check/error)."""
    r = In(b, off)
    out = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            return out
        if typ == -1:
            out.append((typ, r.int(), None))
        elif typ == OP_CREATE:
            out.append((typ, err, r.str()))
        elif typ in (OP_CREATE2, OP_CREATETTL, OP_CREATECONTAINER):
            out.append((typ, err, (r.str(), r.stat())))
        elif typ == OP_SETDATA:
            out.append((typ, err, r.stat()))
        elif typ == OP_GETDATA:
            out.append((typ, err, (r.buf(), r.stat())))
        elif typ == OP_GETCHILDREN:
            out.append((typ, err, r.strs()))
        else:
            out.append((typ, err, None))


class RawMulti(namedtuple("RawMulti", "opcode ops"), _Raw):
    """multi (14) or multiRead (22) with raw sub-ops; result is parse_multi's list."""

    @property
    def type(self):
        return self.opcode

    def serialize(self):
        return multi_body(self.ops)

    @classmethod
    def deserialize(cls, b, off):
        return parse_multi(b, off)


def kazoo_call(client, request, timeout: float = 15.0):
    """Sends a raw request over a kazoo client's session; raises kazoo's exception for a non-zero err."""
    ao = client.handler.async_result()
    client._call(request, ao)
    return ao.get(timeout=timeout)


class EventTap:
    """Records every watch notification a kazoo client receives (incl. persistent-watch events kazoo ignores)."""

    def __init__(self, client):
        self.events: list = []
        self.cond = threading.Condition()
        conn = client._connection
        orig = conn._read_watch_event

        def tapped(buffer, offset):
            r = In(buffer, offset)
            ev = (r.int(), r.int(), r.str())
            with self.cond:
                self.events.append((ev[0], ev[2]))
                self.cond.notify_all()
            return orig(buffer, offset)

        conn._read_watch_event = tapped

    def wait_for(self, pred, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [e for e in self.events if pred(e)]
                if hits:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event within {timeout}s; got {self.events}")
                self.cond.wait(left)

    def wait_count(self, n: int, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.events) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} events within {timeout}s; got {self.events}")
                self.cond.wait(left)
            return list(self.events)

    def snapshot(self) -> list:
        with self.cond:
            return list(self.events)


# ---- independent raw socket client ---------------------------------------------------------------
Reply = namedtuple("Reply", "xid zxid err body")
Connected = namedtuple("Connected", "protocol timeout session_id passwd read_only")


class RawConn:
    """A blocking, single-connection ZooKeeper client speaking raw frames (for malformed-input tests)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.xid = 0
        self.events: list = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send_frame(self, payload: bytes):
        self.sock.sendall(struct.pack("!i", len(payload)) + payload)

    def recv_exact(self, n: int) -> bytes:
        parts, left = [], n
        while left > 0:
            chunk = self.sock.recv(left)
            if not chunk:
                raise ConnectionError("connection closed by server")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)

    def recv_frame(self) -> bytes:
        (n,) = struct.unpack("!i", self.recv_exact(4))
        return self.recv_exact(n)

    def connect(self, timeout_ms: int = 10000, session_id: int = 0, passwd: bytes = b"\0" * 16,
                last_zxid: int = 0, read_only: Optional[bool] = False) -> Connected:
        o = Out().int(0).long(last_zxid).int(timeout_ms).long(session_id).buf(passwd)
        if read_only is not None:
            o.bool(read_only)
        self.send_frame(o.bytes())
        r = In(self.recv_frame())
        proto, to, sid, pw = r.int(), r.int(), r.long(), r.buf()
        ro = r.bool() if r.remaining() > 0 else None
        return Connected(proto, to, sid, pw, ro)

    def request(self, op: int, body: bytes = b"", xid: Optional[int] = None) -> Reply:
        """Sends one request and returns its reply, collecting notifications seen meanwhile."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(struct.pack("!ii", xid, op) + body)
        while True:
            rep = self.read_reply()
            if rep.xid == -1:
                r = In(rep.body)
                self.events.append((r.int(), r.int(), r.str()))
                continue
            return rep

    def read_reply(self) -> Reply:
        f = self.recv_frame()
        xid, zxid, err = struct.unpack_from("!iqi", f, 0)
        return Reply(xid, zxid, err, f[16:])

    def closed_by_server(self, timeout: float = 10.0) -> bool:
        """True when the server closes the connection (EOF/reset) within timeout, reading any leftovers."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False


def raise_for(err: int):
    if err:
        raise EXCEPTIONS[err]()
