#!/usr/bin/env bash
# make e2e: the end-to-end suites on the local cluster of E2E_NODES nodes (3), first
# enforcing NetworkPolicy, then with no enforcer (where the suites must catch that Deny
# edges get through), then with an enforcer on every node but one.
# Ends with one line per profile; on failure saves component logs and descriptions.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
DIR=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}
PROFILES=${E2E_PROFILES:-enforcing noop partial}
NODES=${E2E_NODES:-3}
# From this profile on the operator is installed with the Helm chart instead of kustomize
# (E2E_HELM_PROFILE= for never).
HELM_PROFILE=${E2E_HELM_PROFILE-noop}
# E2E_RUN narrows the suites to the tests it matches (go test -run), such as TestFaults.
RUN=()
[ -n "${E2E_RUN:-}" ] && RUN=(-run "$E2E_RUN")
ARTIFACTS=${NETCONFORM_E2E_ARTIFACTS:-$CACHE/e2e-artifacts/$(date +%Y%m%d-%H%M%S)}
export KUBECONFIG=$DIR/admin.kubeconfig

log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

collect() {
  local profile=$1 out="$ARTIFACTS/$1"
  mkdir -p "$out"
  cp -r "$DIR/logs" "$out/components" 2>/dev/null
  local kubectl
  kubectl=$("$ROOT/hack/k8s-binaries.sh" kubectl)/kubectl
  "$kubectl" describe reachabilitytests >"$out/reachabilitytests.txt" 2>&1
  "$kubectl" get reachabilitytests -o yaml >"$out/reachabilitytests.yaml" 2>&1
  "$kubectl" describe pods -A >"$out/pods.txt" 2>&1
  "$kubectl" get events -A --sort-by=.lastTimestamp >"$out/events.txt" 2>&1
  "$kubectl" get networkpolicies -A -o yaml >"$out/networkpolicies.yaml" 2>&1
  "$kubectl" get clusternetworkpolicies -o yaml >"$out/clusternetworkpolicies.yaml" 2>&1
  "$kubectl" get clusterreports -o yaml >"$out/clusterreports.yaml" 2>&1
  "$kubectl" -n netconform-system logs deployment/netconform-manager --tail=-1 >"$out/manager.log" 2>&1
  log "saved component logs and kubectl describe output to $out"
}

# A cluster this run starts is taken down at the end; one that was up stays up.
was_up=
[ -f "$DIR/profile" ] && was_up=1

"$ROOT/hack/install-prometheus.sh" # the alert suites run a real Prometheus
summaries=()
failed=0
deployed=
for profile in $PROFILES; do
  log "profile $profile"
  if ! NODES=$NODES "$HERE/cluster/cluster.sh" up "$profile" >/dev/null; then
    collect "$profile"; failed=1; summaries+=("e2e profile=$profile: the cluster did not come up"); continue
  fi
  install=${deployed:-kustomize}
  [ "$profile" = "$HELM_PROFILE" ] && install=helm
  if [ "$deployed" != "$install" ]; then
    installed=$("$HERE/cluster/deploy.sh" "$install") || { collect "$profile"; failed=1; break; }
    [ -n "$installed" ] && summaries+=("e2e profile=$profile $installed")
    deployed=$install
  fi
  out=$(mktemp)
  # On partial the suites compute which Deny edges the node without an enforcer lets through.
  open_node=
  [ "$profile" = partial ] && open_node=$(cat "$DIR/open-node" 2>/dev/null)
  started=$SECONDS
  NETCONFORM_E2E_OPEN_NODE=$open_node NETCONFORM_E2E_PROFILE=$profile NETCONFORM_E2E_NODES=$NODES NETCONFORM_IMAGE=netconform.local/netconform:e2e NETCONFORM_E2E_NAMESPACE_PREFIX=e2e- \
    NETCONFORM_E2E_ARTIFACTS="$ARTIFACTS/$profile" \
    go test -C "$ROOT" -tags e2e -count=1 -v -timeout 30m "${RUN[@]}" ./e2e/ >"$out" 2>&1
  rc=$?
  log "profile $profile: the suites took $(((SECONDS - started) / 60))m$(((SECONDS - started) % 60))s"
  grep -E '^(=== RUN|--- |ok|FAIL|PASS)|_test\.go:[0-9]+:' "$out" | grep -vE '^=== RUN' >&2
  line=$(grep -E '^e2e profile=.* scenarios=' "$out" | tail -n 1)
  summaries+=("${line:-e2e profile=$profile: no summary (see $ARTIFACTS/$profile/go-test.log)}")
  while IFS= read -r finding; do summaries+=("$finding"); done < <(grep -E '^e2e profile=' "$out" | grep -v ' scenarios=')
  if [ $rc -ne 0 ]; then
    failed=1
    collect "$profile"
  fi
  # The verbose log shows each run's table, with the nodes every edge ran between.
  mkdir -p "$ARTIFACTS/$profile" && cp "$out" "$ARTIFACTS/$profile/go-test.log"
  rm -f "$out"
done
[ -n "$was_up" ] || "$HERE/cluster/cluster.sh" down >/dev/null 2>&1
printf '%s\n' "${summaries[@]}"
exit $failed
