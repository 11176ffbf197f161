"""Renders charts/zk-operator with a real `helm` binary and checks what a cluster would get.

`helm` comes from $HELM or PATH (scripts/install-deps.sh installs a pinned one). Without it
these tests skip with a loud reason, unless ZK_REQUIRE_HELM=1 (set by scripts/test-all.sh),
where a missing helm is a failure.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

CHART = Path(__file__).resolve().parent.parent / "zk-operator"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))


def helm_binary():
    found = os.environ.get("HELM") or shutil.which("helm")
    if found:
        return found
    if os.environ.get("ZK_REQUIRE_HELM") == "1":
        pytest.fail("helm is not installed but ZK_REQUIRE_HELM=1: run scripts/install-deps.sh")
    pytest.skip("HELM NOT FOUND: the zk-operator chart was NOT rendered or linted "
                "(run scripts/install-deps.sh)")


def helm(*args, chart=CHART, check=True):
    proc = subprocess.run([helm_binary(), *args, str(chart)], capture_output=True, text=True,
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def render(*sets, chart=CHART, namespace="monitoring"):
    args = ["template", "rel", "--namespace", namespace]
    for s in sets:
        args += ["--set", s]
    out = helm(*args, chart=chart).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def test_lint_is_clean_in_strict_mode():
    helm("lint", "--strict")
    helm("lint", "--strict", "--set", "metrics.podMonitor.enabled=true",
         "--set", "dashboards.annotations.grafana_folder=ZooKeeper")


def test_one_configmap_per_dashboard_with_the_sidecar_label_and_the_exact_file():
    assert len(DASHBOARDS) >= 2
    # The dashboards use Grafana's {{...}} legend syntax, which helm must not template.
    assert any("{{" in p.read_text() for p in DASHBOARDS)
    maps = of_kind(render(), "ConfigMap")
    assert len(maps) == len(DASHBOARDS)
    by_key = {}
    for cm in maps:
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["labels"]["app.kubernetes.io/instance"] == "rel"
        assert "annotations" not in cm["metadata"]
        assert len(cm["data"]) == 1, cm["data"].keys()
        (key, value), = cm["data"].items()
        by_key[key] = (cm["metadata"]["name"], value)
    assert sorted(by_key) == [p.name for p in DASHBOARDS]
    names = [name for name, _ in by_key.values()]
    assert len(set(names)) == len(names)
    for p in DASHBOARDS:
        name, value = by_key[p.name]
        assert name == f"rel-zk-operator-dashboard-{p.stem}"
        assert value.encode() == p.read_bytes(), f"{p.name} differs from the file"
        assert json.loads(value)["uid"]


def test_every_json_file_added_to_the_chart_gets_its_own_configmap(tmp_path):
    chart = tmp_path / "zk-operator"
    shutil.copytree(CHART, chart)
    extra = '{\n  "uid": "extra",\n  "legend": "{{instance}} \\"q\\" \'s\'",\n  "t": "  x  "\n}\n'
    (chart / "dashboards" / "extra.json").write_text(extra)
    maps = of_kind(render(chart=chart), "ConfigMap")
    assert len(maps) == len(DASHBOARDS) + 1
    data = {k: v for cm in maps for k, v in cm["data"].items()}
    assert data["extra.json"] == extra
    assert json.loads(data["extra.json"])["legend"] == "{{instance}} \"q\" 's'"


def test_disabled_dashboards_render_no_configmap():
    assert of_kind(render("dashboards.enabled=false"), "ConfigMap") == []


def test_label_key_and_value_are_configurable():
    maps = of_kind(render("dashboards.label=my_dash", "dashboards.labelValue=yes"), "ConfigMap")
    assert len(maps) == len(DASHBOARDS)
    for cm in maps:
        labels = cm["metadata"]["labels"]
        assert labels["my_dash"] == "yes"
        assert "grafana_dashboard" not in labels


def test_numeric_label_values_from_set_render_as_strings():
    # `--set dashboards.labelValue=1` parses as a number; Kubernetes wants a string.
    maps = of_kind(render("dashboards.labelValue=1", "dashboards.labels.tier=2",
                          "dashboards.annotations.rank=3"), "ConfigMap")
    assert len(maps) == len(DASHBOARDS)
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["labels"]["tier"] == "2"
        assert cm["metadata"]["annotations"] == {"rank": "3"}


def test_namespace_extra_labels_and_folder_annotation():
    maps = of_kind(render("dashboards.namespace=grafana",
                          "dashboards.labels.team=storage",
                          "dashboards.annotations.grafana_folder=ZooKeeper"), "ConfigMap")
    assert len(maps) == len(DASHBOARDS)
    for cm in maps:
        meta = cm["metadata"]
        assert meta["namespace"] == "grafana"
        assert meta["labels"]["team"] == "storage"
        assert meta["labels"]["grafana_dashboard"] == "1"
        assert meta["annotations"] == {"grafana_folder": "ZooKeeper"}


def test_podmonitor_is_off_by_default():
    assert of_kind(render(), "PodMonitor") == []


def test_podmonitor_scrapes_the_selected_pods_metrics_port():
    docs = render("metrics.podMonitor.enabled=true", "metrics.podMonitor.labels.release=kps",
                  "metrics.podMonitor.interval=15s")
    pm, = of_kind(docs, "PodMonitor")
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert pm["metadata"]["namespace"] == "monitoring"
    assert pm["metadata"]["labels"]["release"] == "kps"
    assert pm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "zkserver"}}
    assert pm["spec"]["namespaceSelector"] == {"any": True}
    assert pm["spec"]["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}]


def test_podmonitor_refuses_an_empty_selector():
    proc = helm("template", "rel", "--set", "metrics.podMonitor.enabled=true",
                "--set", "metrics.podMonitor.selector=null", check=False)
    assert proc.returncode != 0
    assert "selector must not be empty" in proc.stderr
