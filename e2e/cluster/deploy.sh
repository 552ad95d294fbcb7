#!/usr/bin/env bash
# Builds the netconform image without Docker, imports it into the local cluster's
# containerd, and installs the operator the way users do: with the project's kustomize
# manifests (kubectl apply -k), or with its Helm chart (deploy.sh helm), which first removes
# a kustomize install. The helm install prints one line: install=helm chart=NAME-VERSION.
#   deploy.sh [kustomize|helm]
set -euo pipefail
INSTALL=${1:-kustomize}
case $INSTALL in kustomize|helm) ;; *) echo "deploy: unknown install '$INSTALL': use kustomize or helm" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
DIR=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}
IMAGE=netconform.local/netconform:e2e
export KUBECONFIG=$DIR/admin.kubeconfig
KUBECTL=$("$ROOT/hack/k8s-binaries.sh" kubectl)/kubectl

log() { printf '%s deploy: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -f "$KUBECONFIG" ] || { log "no local cluster: run 'make cluster-up' first"; exit 1; }
mkdir -p "$DIR/images"
log "building $IMAGE"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$DIR/images/netconform" ./cmd/netconform)
(cd "$ROOT" && go run ./e2e/cluster/imagebuild --name "$IMAGE" --out "$DIR/images/netconform.tar" \
  --file "$DIR/images/netconform=/netconform" --entrypoint /netconform) >&2
"$HERE/cluster.sh" load "$DIR/images/netconform.tar" >&2

# ClusterNetworkPolicy, from the module the build uses, so that the canary checks the
# admin tier (kube-router does not implement it: the canary must say so).
NPAPI=$(cd "$ROOT" && go list -m -f '{{.Dir}}' sigs.k8s.io/network-policy-api)
log "installing the ClusterNetworkPolicy CRDs from $NPAPI/config/crd/standard"
"$KUBECTL" apply --server-side -f "$NPAPI/config/crd/standard/policy.networking.k8s.io_clusternetworkpolicies.yaml" >/dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s crd/clusternetworkpolicies.policy.networking.k8s.io >/dev/null

# OpenReports, from the module the build uses: the e2e overlay adds config/openreports,
# so the manager writes a ClusterReport per test.
ORAPI=$(cd "$ROOT" && go list -m -f '{{.Dir}}' github.com/openreports/reports-api)
log "installing the OpenReports CRDs from $ORAPI/config/crd"
"$KUBECTL" apply --server-side -f "$ORAPI/config/crd/openreports.io_clusterreports.yaml" -f "$ORAPI/config/crd/openreports.io_reports.yaml" >/dev/null
"$KUBECTL" wait --for=condition=Established --timeout=60s crd/clusterreports.openreports.io crd/reports.openreports.io >/dev/null

install_kustomize() {
  log "installing the operator: kubectl apply -k config/default with config/openreports (image $IMAGE)"
  "$KUBECTL" apply -k "$HERE/deploy" >/dev/null
}

install_helm() {
  local helm release_of
  helm=$("$ROOT/hack/helm.sh")
  release_of=$("$KUBECTL" -n netconform-system get deployment netconform-manager \
    -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}' 2>/dev/null || true)
  if [ -n "$existed" ] && [ -z "$release_of" ]; then
    log "removing the kustomize install: kubectl delete -k config/default"
    "$KUBECTL" delete -k "$HERE/deploy" --ignore-not-found --wait=true --timeout=120s >/dev/null
    existed=
  fi
  local verb=install options=()
  [ -n "$release_of" ] && verb=upgrade
  # The chart's options match those of the kustomize overlay in deploy/.
  grep -q 'config/openreports' "$HERE/deploy/kustomization.yaml" && options+=(--set openReports.enabled=true)
  log "installing the operator: helm $verb netconform charts/netconform --namespace netconform-system (image $IMAGE)"
  "$helm" "$verb" netconform "$ROOT/charts/netconform" --namespace netconform-system --create-namespace \
    --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" "${options[@]}" --wait --timeout 2m >/dev/null
  echo "install=helm chart=$("$helm" list --namespace netconform-system --filter '^netconform$' --output json | sed -n 's/.*"chart":"\([^"]*\)".*/\1/p')"
}

existed=$("$KUBECTL" -n netconform-system get deployment netconform-manager -o name 2>/dev/null || true)
"install_$INSTALL"
# The tag stays the same across builds: restart so the manager runs the image just imported.
[ -n "$existed" ] && "$KUBECTL" -n netconform-system rollout restart deployment/netconform-manager >/dev/null
"$KUBECTL" -n netconform-system rollout status deployment/netconform-manager --timeout=120s >&2
log "the operator runs in namespace netconform-system"
