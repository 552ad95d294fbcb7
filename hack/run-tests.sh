#!/usr/bin/env bash
# Runs every Go test (no cluster needed) against the cached API-server binaries and helm, with the
# arguments given (make unit passes -race), keeps the verbose log, and
# prints each package's verdict, the failures, and one closing count.
set -uo pipefail
cd "$(dirname "$0")/.."
assets=$(hack/k8s-binaries.sh etcd kube-apiserver kubectl) || exit 1
# The chart's tests render it with helm and compare it with kustomize's rendering.
helm=$(hack/helm.sh) || exit 1
log="${NETCONFORM_CACHE:-$HOME/.cache/netconform}/test-$(date +%Y%m%d-%H%M%S).log"
mkdir -p "$(dirname "$log")"
KUBEBUILDER_ASSETS=$assets NETCONFORM_HELM=$helm go test -count=1 -v "$@" ./... >"$log" 2>&1
rc=$?
grep -E '^(ok|FAIL|panic:)|^\s*--- FAIL|_test\.go:[0-9]+:' "$log" | grep -vE '^\s*--- PASS' || true
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
echo "full log: $log"
echo "tests: $passed passed, $failed failed"
exit $rc
