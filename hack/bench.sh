#!/usr/bin/env bash
# make bench: brings up the enforcing local cluster if needed, deploys the operator built
# from this tree, and measures netconform against the upstream NetworkPolicy suite's
# method (e2e/bench). Prints a table of figures; the last line is the JSON file's path.
# Arguments go to the benchmark: --reps N, --only SCENARIOS, --out PATH.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
export KUBECONFIG=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}/admin.kubeconfig

"$ROOT/e2e/cluster/cluster.sh" up enforcing >/dev/null
"$ROOT/e2e/cluster/deploy.sh"
cd "$ROOT"
go run -tags bench ./e2e/bench "$@"
