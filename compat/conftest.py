"""Pytest fixtures: one shared server per session, fresh servers for restart/crash tests, kazoo clients.

Target chosen by env ZK_TARGET (`zkserver` default, `apache`, or `zkserver-ensemble`); see README.md.
"""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

from zkharness import ZkEnsemble, ZkServer, is_apache, is_ensemble, target

_counter = itertools.count()


def pytest_report_header(config):
    return f"zk compat target: {target()}"


def pytest_configure(config):
    config.addinivalue_line("markers", "zk39: checks ZooKeeper 3.9-only behaviour (skipped against Apache 3.8)")
    config.addinivalue_line("markers", "zkserver_only: needs both servers (runs only when ZK_TARGET=zkserver)")
    config.addinivalue_line(
        "markers", "standalone_only(reason): checks single-server behaviour (skipped for ZK_TARGET=zkserver-ensemble)"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if is_apache() and item.get_closest_marker("zk39"):
            item.add_marker(pytest.mark.skip(reason="3.9-only behaviour; installed Apache is 3.8"))
        if is_apache() and item.get_closest_marker("zkserver_only"):
            item.add_marker(pytest.mark.skip(reason="cross-server test: runs only with ZK_TARGET=zkserver"))
        if is_ensemble():
            if item.get_closest_marker("zkserver_only"):
                item.add_marker(pytest.mark.skip(reason="cross-server test: runs only with ZK_TARGET=zkserver"))
            marker = item.get_closest_marker("standalone_only")
            if marker:
                why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "standalone behaviour")
                item.add_marker(pytest.mark.skip(reason=f"standalone only: {why}"))
            elif "fresh_server" in getattr(item, "fixturenames", ()):
                item.add_marker(
                    pytest.mark.skip(reason="needs a dedicated standalone server it restarts or reconfigures")
                )


@pytest.fixture(scope="session")
def zk(tmp_path_factory):
    """The shared target server (session-scoped): one server, or a 3-member ensemble seen through a follower."""
    if is_ensemble():
        server = ZkEnsemble(tmp_path_factory.mktemp("zk-ensemble"))
    else:
        server = ZkServer(tmp_path_factory.mktemp("zk-shared"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_server(tmp_path_factory):
    """Factory for dedicated servers (restart, kill -9, special config); all stopped by PID at teardown."""
    servers: list[ZkServer] = []

    def make(cfg_extra=None, jvm_flags=None, kind=None, start=True, workdir=None, **kw) -> ZkServer:
        wd = workdir or tmp_path_factory.mktemp("zk-fresh")
        s = ZkServer(wd, cfg_extra=dict(cfg_extra or {}), jvm_flags=list(jvm_flags or []), **kw)
        if kind:
            s.kind = kind
        servers.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in servers:
        s.stop()


def make_client(hosts: str, timeout: float = 10.0, **kw) -> KazooClient:
    retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5)
    c = KazooClient(hosts=hosts, timeout=timeout, connection_retry=retry, **kw)
    c.start(timeout=30)
    return c


@pytest.fixture
def client_factory(zk):
    """Factory for extra kazoo clients on the shared server; all stopped at teardown."""
    clients: list[KazooClient] = []

    def make(hosts=None, **kw) -> KazooClient:
        c = make_client(hosts or zk.hosts, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - teardown of a client that may be expired/closed
            pass


@pytest.fixture
def kz(client_factory):
    """A connected kazoo client on the shared server."""
    return client_factory()


@pytest.fixture
def prefix(request, zk):
    """A unique znode prefix for this test (not created); isolates tests sharing a server."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    return f"/t{next(_counter)}_{name}_{uuid.uuid4().hex[:6]}"
