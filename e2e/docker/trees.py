"""Reads a server's whole tree through kazoo and compares trees across servers.

A tree is read from one server only (the connection string names just that server) after a
`sync("/")`, so it shows everything that server has committed up to now.
"""

from __future__ import annotations

from typing import NamedTuple

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError


class Node(NamedTuple):
    data: bytes
    stat: tuple  # kazoo's ZnodeStat as a plain tuple: every field must match across servers


Tree = dict[str, Node]


def _child(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def read_tree(addr: str, timeout: float = 15.0) -> Tree:
    """Every node of the server at `addr` (host:port), level by level with pipelined reads."""
    zk = KazooClient(hosts=addr, timeout=timeout)
    zk.start(timeout=timeout)
    try:
        zk.sync("/")
        tree: Tree = {}
        level = ["/"]
        while level:
            gets = [(p, zk.get_async(p), zk.get_children_async(p)) for p in level]
            nxt = []
            for path, get, kids in gets:
                try:
                    data, stat = get.get(timeout=timeout)
                    children = kids.get(timeout=timeout)
                except NoNodeError:
                    # Deleted between listing and reading (e.g. a session expiring meanwhile).
                    continue
                tree[path] = Node(data, tuple(stat))
                nxt.extend(_child(path, c) for c in children)
            level = nxt
        return tree
    finally:
        zk.stop()
        zk.close()


def ephemerals(tree: Tree) -> dict[str, int]:
    """Ephemeral nodes and their owner sessions (ZnodeStat.ephemeralOwner is field 7)."""
    return {p: n.stat[7] for p, n in tree.items() if n.stat[7] != 0}


def differences(a: Tree, b: Tree, limit: int = 10, local_mtime: frozenset = frozenset()) -> list[str]:
    """Human-readable differences between two trees (empty when identical). Nodes named in
    `local_mtime` may differ in their mtime (ZnodeStat field 3) only."""
    out = []
    for p in sorted(set(a) - set(b))[:limit]:
        out.append(f"only in first: {p}")
    for p in sorted(set(b) - set(a))[:limit]:
        out.append(f"only in second: {p}")
    for p in sorted(set(a) & set(b)):
        if len(out) >= 3 * limit:
            break
        x, y = a[p], b[p]
        if p in local_mtime:
            x, y = x._replace(stat=x.stat[:3] + x.stat[4:]), y._replace(stat=y.stat[:3] + y.stat[4:])
        if x != y:
            out.append(f"differs at {p}: {a[p]} != {b[p]}")
    return out
