#!/usr/bin/env bash
# make e2e-kind: the same end-to-end suites and the same `netconform run` gate, on kind
# with Calico. Needs docker, kind and kubectl, and internet access for the Calico
# manifests; it cannot run on a machine without them (the local cluster covers that case).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=e2e/kind/calico.env
. "$ROOT/e2e/kind/calico.env"
IMAGE=netconform:kind
export KUBECONFIG=${KUBECONFIG:-$ROOT/bin/kind.kubeconfig}

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is not installed" >&2; exit 2; }
done
mkdir -p "$ROOT/bin"
kind get clusters | grep -qx netconform || kind create cluster --config "$ROOT/e2e/kind/kind-config.yaml" --kubeconfig "$KUBECONFIG"
kubectl apply --server-side -f "https://raw.githubusercontent.com/projectcalico/calico/$CALICO_VERSION/manifests/calico.yaml" >/dev/null
kubectl -n kube-system rollout status daemonset/calico-node --timeout=5m
kubectl wait node --all --for=condition=Ready --timeout=5m

docker build -t "$IMAGE" --build-arg VERSION=kind "$ROOT"
kind load docker-image "$IMAGE" --name netconform
kubectl apply -k "$ROOT/e2e/kind/deploy"
kubectl -n netconform-system rollout status deployment/netconform-manager --timeout=3m

# The production scenario's ipBlock allows everything but the private ranges; kind has
# no public-range test host, so that scenario runs only on the local cluster.
NETCONFORM_E2E_PROFILE=enforcing NETCONFORM_IMAGE=$IMAGE NETCONFORM_E2E_NAMESPACE_PREFIX=e2e- \
  go test -C "$ROOT" -tags e2e -count=1 -v -timeout 30m -run 'TestBookstoreLockdown|TestThreeTiers|TestClientServer|TestSelfSegmentation' ./e2e/
