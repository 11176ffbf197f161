"""Fault tests of a three-server zkserver ensemble in containers on private Docker networks.

Each test runs continuous writes from several kazoo clients through a fault (kill -9 of the
leader, a follower cut off from its peers, the leader cut off from its peers), heals it, and then
demands: one leader and two followers, identical trees on all three servers (every node, data and
stat), every acknowledged write present everywhere, nothing present that no client attempted,
sequential suffixes unique and increasing, and no ephemeral node left once its session is dead.
"""

from __future__ import annotations

import logging
import time

import pytest
from kazoo.client import KazooClient

from cluster import Cluster, mode_of, wait_until
from trees import differences, ephemerals, read_tree
from workload import EPH, LOAD, SEQ, DoomedSession, Writers, ensure_layout

log = logging.getLogger("e2e")

# "A new leader within a few seconds": failure detection is syncLimit * tickTime = 2 s here.
NEW_LEADER_WITHIN_S = 6.0
# Every writer must get this many acknowledgements after a fault to count as carrying on.
PROGRESS_OPS = 20
WRITERS = 4


def start_load(cluster: Cluster) -> Writers:
    ensure_layout(cluster.hosts())
    writers = Writers(cluster.hosts(), count=WRITERS)
    writers.start()
    wait_until(lambda: writers.total_acked() >= 100, 30, "write load to get going")
    return writers


def wait_progress(writers: Writers, since: float, what: str, timeout: float = 30.0) -> None:
    """Every writer gets PROGRESS_OPS acknowledgements after `since`."""
    try:
        wait_until(lambda: min(writers.acked_since(since).values()) >= PROGRESS_OPS, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; acks per writer since then: {writers.acked_since(since)}") from None


def finish_load(writers: Writers) -> None:
    """Stops the writers and checks they kept their sessions throughout."""
    writers.stop_and_close()
    for w in writers.writers:
        assert not w.unexpected, f"writer {w.wid}: {w.unexpected[:5]}"
        assert w.lost == 0, f"writer {w.wid} lost its session"
        assert len(w.acked) > 0, f"writer {w.wid} got nothing acknowledged"


def cannot_connect(addr: str) -> bool:
    """True when a client cannot open a session on the server at `addr` (it is not serving)."""
    zk = KazooClient(hosts=addr, timeout=2.0, connection_retry={"max_tries": 0})
    try:
        zk.start(timeout=3.0)
    except Exception:  # noqa: BLE001 - a timeout or refusal is what we expect
        return True
    finally:
        zk.stop()
        zk.close()
    return False


def assert_converged(cluster: Cluster, writers: Writers, doomed: list[DoomedSession]) -> None:
    """One leader, then identical trees with every acknowledged write and no dead ephemerals."""
    cluster.wait_for_quorum(timeout=30)
    for d in doomed:
        d.kill()
    addrs = {sid: m.client_addr for sid, m in cluster.members.items()}
    # Apache stamps /zookeeper/config with each server's own clock when it loads its config
    # (the node is not replicated); zkserver keeps it identical everywhere.
    local_mtime = frozenset({"/zookeeper/config"}) if cluster.apache else frozenset()
    state: dict = {}

    def settled():
        trees = {sid: read_tree(addr) for sid, addr in addrs.items()}
        state["trees"] = trees
        first = trees[1]
        if any(ephemerals(t) for t in trees.values()):
            return False
        return all(not differences(first, t, local_mtime=local_mtime) for t in trees.values())

    try:
        # Dead sessions expire after their timeout (2 s for the doomed ones) on the leader.
        wait_until(settled, 40, "identical trees without ephemerals on all servers", interval=0.5)
    except AssertionError as exc:
        trees = state.get("trees", {})
        detail = {
            sid: differences(trees[1], t, local_mtime=local_mtime) for sid, t in trees.items() if sid != 1
        }
        eph = {sid: ephemerals(t) for sid, t in trees.items()}
        raise AssertionError(f"{exc}; differences vs zk1: {detail}; ephemerals: {eph}") from None

    attempted = set().union(*(w.attempted for w in writers.writers))
    for sid, tree in state["trees"].items():
        for w in writers.writers:
            missing = [p for p in w.acked if p not in tree]
            assert not missing, f"zk{sid} lost {len(missing)} acknowledged writes of writer {w.wid}: {missing[:5]}"
            wrong = [p for p, d in w.acked.items() if tree[p].data != d]
            assert not wrong, f"zk{sid} has wrong data at {wrong[:5]}"
        phantom = [p for p in tree if p.startswith(LOAD + "/") and p not in attempted]
        assert not phantom, f"zk{sid} holds writes nobody attempted: {phantom[:5]}"
        check_sequential(sid, tree, writers)


def check_sequential(sid: int, tree: dict, writers: Writers) -> None:
    """Suffixes under SEQ are 0..n-1 in creation (czxid) order, and each client's acks increase."""
    prefix = SEQ + "/s-"
    children = sorted((p for p in tree if p.startswith(prefix)), key=lambda p: int(p[len(prefix):]))
    suffixes = [int(p[len(prefix):]) for p in children]
    # No deletes happen under SEQ, so the parent's cversion numbered every create exactly once.
    assert suffixes == list(range(len(children))), f"zk{sid}: sequential suffixes have gaps or repeats"
    assert tree[SEQ].stat[5] == len(children), f"zk{sid}: cversion of {SEQ} != number of children"
    czxids = [tree[p].stat[0] for p in children]
    assert czxids == sorted(set(czxids)), f"zk{sid}: sequential suffixes not in creation order"
    for w in writers.writers:
        mine = [int(p[len(prefix):]) for p in w.acked_seq]
        assert mine == sorted(set(mine)), f"writer {w.wid} got non-increasing suffixes"


def test_kill_leader_under_write_load(cluster: Cluster):
    leader = cluster.wait_for_quorum()
    others = [s for s in cluster.members if s != leader]
    writers = start_load(cluster)
    doomed = [
        DoomedSession(cluster.members[leader].client_addr, f"{EPH}/doomed-on-leader"),
        DoomedSession(cluster.members[others[0]].client_addr, f"{EPH}/doomed-on-follower"),
    ]
    try:
        killed_at = time.monotonic()
        log.info("kill -9 of leader zk%d (%s)", leader, cluster.members[leader].client_addr)
        cluster.kill(leader)
        log.info("zk%d killed", leader)
        for d in doomed:
            d.kill()
        new_leader = cluster.wait_for_quorum(others, timeout=30)
        took = time.monotonic() - killed_at
        print(f"new leader zk{new_leader} {took:.2f}s after kill -9 of zk{leader}")
        assert took <= NEW_LEADER_WITHIN_S, f"new leader only after {took:.2f}s"
        wait_progress(writers, time.monotonic(), "writers to carry on after the leader died")

        cluster.restart(leader)
        assert cluster.wait_for_quorum(timeout=30) == new_leader, "the restarted server must rejoin as follower"
        wait_progress(writers, time.monotonic(), "writers to carry on after the old leader rejoined")
        finish_load(writers)
        assert_converged(cluster, writers, doomed)
    finally:
        for d in doomed:
            d.kill()
        writers.stop_and_close()


def test_minority_partition_and_heal(cluster: Cluster):
    leader = cluster.wait_for_quorum()
    follower, other = [s for s in cluster.members if s != leader]
    writers = start_load(cluster)
    doomed = [DoomedSession(cluster.members[follower].client_addr, f"{EPH}/doomed-on-isolated")]
    try:
        for d in doomed:
            d.kill()
        cluster.isolate(follower)
        isolated = cluster.members[follower].client_addr
        wait_until(
            lambda: mode_of(cluster.members[follower].client_ip) in ("not-serving", "unreachable"),
            15,
            f"isolated zk{follower} to stop serving",
        )
        assert cannot_connect(isolated), f"isolated zk{follower} still accepts sessions"
        assert cluster.leader([leader, other]) == leader, "the majority must keep its leader"
        wait_progress(writers, time.monotonic(), "writes to continue on the majority")
        assert mode_of(cluster.members[follower].client_ip) in ("not-serving", "unreachable")

        cluster.heal(follower)
        assert cluster.wait_for_quorum(timeout=30) == leader, "the healed server must rejoin as follower"
        wait_progress(writers, time.monotonic(), "writers to carry on after the heal")
        finish_load(writers)
        assert_converged(cluster, writers, doomed)
    finally:
        for d in doomed:
            d.kill()
        writers.stop_and_close()


def test_leader_partitioned_away_and_heal(cluster: Cluster):
    leader = cluster.wait_for_quorum()
    others = [s for s in cluster.members if s != leader]
    writers = start_load(cluster)
    doomed = [DoomedSession(cluster.members[leader].client_addr, f"{EPH}/doomed-on-old-leader")]
    try:
        for d in doomed:
            d.kill()
        cut_at = time.monotonic()
        cluster.isolate(leader)
        new_leader = cluster.wait_for_quorum(others, timeout=30)
        took = time.monotonic() - cut_at
        print(f"new leader zk{new_leader} {took:.2f}s after zk{leader} was cut off")
        assert took <= NEW_LEADER_WITHIN_S, f"new leader only after {took:.2f}s"
        wait_until(
            lambda: mode_of(cluster.members[leader].client_ip) in ("not-serving", "unreachable"),
            15,
            f"old leader zk{leader} to step down",
        )
        assert cannot_connect(cluster.members[leader].client_addr), f"cut-off zk{leader} still accepts sessions"
        wait_progress(writers, time.monotonic(), "writers to carry on under the new leader")

        cluster.heal(leader)
        assert cluster.wait_for_quorum(timeout=30) == new_leader, "the old leader must rejoin as follower"
        wait_progress(writers, time.monotonic(), "writers to carry on after the heal")
        finish_load(writers)
        assert_converged(cluster, writers, doomed)
    finally:
        for d in doomed:
            d.kill()
        writers.stop_and_close()
