#!/usr/bin/env bash
# Builds the helm binary from its Go module into a cache outside the repository, keyed by
# version, and prints its path. A binary already there is reused.
#   hack/helm.sh          # prints .../tools/helm-v4.3.1/helm
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v4.3.1}
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
DIR="$CACHE/tools/helm-$HELM_VERSION"
HELM="$DIR/helm"

if [ ! -x "$HELM" ]; then
  echo "helm: building helm $HELM_VERSION (a few minutes on a cold cache)" >&2
  mkdir -p "$DIR"
  # Helm's own Makefile stamps the version the same way; without it `helm version` says v4.3.
  GOBIN="$DIR/.build" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  mv "$DIR/.build/helm" "$HELM"
  rmdir "$DIR/.build"
fi
echo "$HELM"
