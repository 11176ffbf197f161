"""Kazoo: sequential node naming (10-digit suffix taken from the parent's stored cversion)."""

import re

import pytest
from kazoo.exceptions import NoChildrenForEphemeralsError, NodeExistsError

from zkwire import RawCreate, kazoo_call


def test_first_sequential_suffix_is_ten_zeros(kz, prefix):
    kz.create(prefix)
    assert kz.create(f"{prefix}/n", sequence=True) == f"{prefix}/n0000000000"
    assert kz.create(f"{prefix}/n", sequence=True) == f"{prefix}/n0000000001"


def test_prefix_style_job_names(kz, prefix):
    kz.create(f"{prefix}/q", makepath=True)
    names = [kz.create(f"{prefix}/q/job-", b"w", sequence=True) for _ in range(12)]
    assert names == [f"{prefix}/q/job-{i:010d}" for i in range(12)]
    for n in kz.get_children(f"{prefix}/q"):
        assert re.fullmatch(r"job-\d{10}", n)


def test_suffix_counts_all_child_creations(kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/plain-a")
    kz.create(f"{prefix}/plain-b")
    assert kz.create(f"{prefix}/s-", sequence=True) == f"{prefix}/s-0000000002"


def test_deletes_do_not_rewind_the_counter(kz, prefix):
    kz.create(prefix)
    first = kz.create(f"{prefix}/s-", sequence=True)
    kz.create(f"{prefix}/other")
    kz.delete(first)
    kz.delete(f"{prefix}/other")
    assert kz.exists(prefix).cversion == 4  # 2 creations + 2 deletions
    assert kz.create(f"{prefix}/s-", sequence=True) == f"{prefix}/s-0000000002"


def test_failed_create_does_not_consume_a_sequence_number(kz, prefix):
    kz.create(prefix)
    kz.create(f"{prefix}/x")
    kz.create(f"{prefix}/x/eph", ephemeral=True)
    # NodeExists on a plain create, and an error under an ephemeral parent: neither bumps the counter.
    with pytest.raises(NodeExistsError):
        kz.create(f"{prefix}/x")
    with pytest.raises(NoChildrenForEphemeralsError):
        kz.create(f"{prefix}/x/eph/s-", sequence=True)
    assert kz.create(f"{prefix}/x/s-", sequence=True) == f"{prefix}/x/s-0000000001"
    assert kz.create(f"{prefix}/s-", sequence=True) == f"{prefix}/s-0000000001"


def test_counters_are_per_parent(kz, prefix):
    kz.create(f"{prefix}/a", makepath=True)
    kz.create(f"{prefix}/b", makepath=True)
    assert kz.create(f"{prefix}/a/x", sequence=True).endswith("x0000000000")
    assert kz.create(f"{prefix}/a/x", sequence=True).endswith("x0000000001")
    assert kz.create(f"{prefix}/b/x", sequence=True).endswith("x0000000000")


def test_ephemeral_sequential(kz, prefix):
    kz.create(prefix)
    path = kz.create(f"{prefix}/lock-", ephemeral=True, sequence=True)
    assert path == f"{prefix}/lock-0000000000"
    assert kz.exists(path).ephemeralOwner == kz.client_id[0]


def test_sequential_with_empty_name_under_parent(kz, prefix):
    kz.create(prefix)
    # "/p/" + suffix: a sequential create on the parent path with a trailing slash is valid
    path = kazoo_call(kz, RawCreate(f"{prefix}/", b"", [(31, "world", "anyone")], 2))
    assert path == f"{prefix}/0000000000"


def test_sequence_names_unique_under_concurrency(client_factory, prefix):
    a, b = client_factory(), client_factory()
    a.create(prefix)
    results = []
    for i in range(20):
        results.append(a.create_async(f"{prefix}/c-", sequence=True))
        results.append(b.create_async(f"{prefix}/c-", sequence=True))
    names = [r.get(timeout=20) for r in results]
    assert len(set(names)) == 40
    assert sorted(names) == [f"{prefix}/c-{i:010d}" for i in range(40)]
