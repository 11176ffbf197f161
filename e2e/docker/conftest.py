"""Fixtures: a fresh three-container ensemble per test, always removed afterwards (even on failure).

The image is `zkserver:dev` unless ZK_E2E_IMAGE names another local tag. Tests are skipped with a
reason when docker or the image is not usable here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import APACHE_IMAGE, DEFAULT_IMAGE, Cluster, docker_unusable_reason  # noqa: E402

# ZK_E2E_TARGET=apache runs the same tests against the host's Apache ZooKeeper (the reference).
APACHE = os.environ.get("ZK_E2E_TARGET", "zkserver") == "apache"
IMAGE = os.environ.get("ZK_E2E_IMAGE", APACHE_IMAGE if APACHE else DEFAULT_IMAGE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def save_logs(c: Cluster, log_dir: Path, test: str) -> None:
    """Writes each server's whole log, with docker's timestamps, to `log_dir` (ZK_E2E_LOG_DIR)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for sid, m in c.members.items():
        proc = subprocess.run(["docker", "logs", "-t", m.container], capture_output=True, text=True, timeout=60)
        (log_dir / f"{test}-{c.prefix}-zk{sid}.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def docker_ready():
    reason = docker_unusable_reason(IMAGE)
    if reason:
        pytest.skip(reason)
    return IMAGE


@pytest.fixture
def cluster(docker_ready, request):
    c = Cluster(image=docker_ready, apache=APACHE)
    try:
        c.create()
        c.wait_for_quorum(timeout=60)
        yield c
    finally:
        rep = getattr(request.node, "rep_call", None)
        log_dir = os.environ.get("ZK_E2E_LOG_DIR")
        if log_dir:
            save_logs(c, Path(log_dir), request.node.name)
        if rep is None or rep.failed:
            for sid in c.members:
                try:
                    print(f"\n===== logs of zk{sid} ({c.members[sid].container}) =====\n{c.logs(sid)}")
                except Exception as exc:  # noqa: BLE001 - diagnostics must not hide the failure
                    print(f"no logs for zk{sid}: {exc!r}")
        if os.environ.get("ZK_E2E_KEEP_FAILED") and (rep is None or rep.failed):
            print(f"\nkeeping {c.prefix}-* for inspection (ZK_E2E_KEEP_FAILED): remove them by name")
        else:
            c.destroy()
