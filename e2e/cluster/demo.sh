#!/usr/bin/env bash
# make demo: the enforcing local cluster, the operator installed with kubectl apply -k, the
# Bookstore lockdown, and its ReachabilityTest's verdict per edge.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
t0=$SECONDS
"$HERE/cluster.sh" up enforcing >/dev/null
"$HERE/deploy.sh"
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
export KUBECONFIG=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}/admin.kubeconfig
KUBECTL=$("$ROOT/hack/k8s-binaries.sh" kubectl)/kubectl

log() { printf '%s demo: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "deploying the Bookstore: kubectl apply -k config/samples/bookstore"
"$KUBECTL" apply -k "$HERE/bookstore" >/dev/null
"$KUBECTL" -n bookstore wait deployment --all --for=condition=Available --timeout=180s >/dev/null
"$KUBECTL" -n ingress-nginx wait deployment --all --for=condition=Available --timeout=180s >/dev/null

log "applying its ReachabilityTest and waiting for the run to complete"
"$KUBECTL" delete reachabilitytest bookstore --ignore-not-found >/dev/null
"$KUBECTL" apply -f "$ROOT/config/samples/bookstore/reachabilitytest.yaml" >/dev/null
"$KUBECTL" wait reachabilitytest/bookstore --for=condition=Completed --timeout=300s >/dev/null

echo
{
  echo "EDGE	EXPECTED	OBSERVED	VERDICT	TARGET"
  "$KUBECTL" get reachabilitytest bookstore -o jsonpath='{range .status.results[*]}{.edge}{"\t"}{.expected}{"\t"}{.observed}{"\t"}{.verdict}{"\t"}{.target}{"\n"}{end}'
} | column -t -s $'\t'
echo
"$KUBECTL" get reachabilitytest bookstore
passed=$("$KUBECTL" get reachabilitytest bookstore -o jsonpath='{.status.conditions[?(@.type=="Passed")].status}')
message=$("$KUBECTL" get reachabilitytest bookstore -o jsonpath='{.status.conditions[?(@.type=="Passed")].message}')
echo
echo "Passed=$passed: $message (demo took $((SECONDS - t0))s)"
echo "Explore: export KUBECONFIG=$KUBECONFIG; kubectl describe rt bookstore"
[ "$passed" = True ]
