#!/usr/bin/env bash
# Checks and unit-tests the Prometheus rules with promtool (Debian's `prometheus` package),
# installing it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

hack/install-prometheus.sh

run() {
	echo "+ $*"
	"$@"
}
echo "promtool: $(promtool --version 2>&1 | head -n1)"
run promtool check rules config/prometheus/rules.yaml
run promtool test rules config/prometheus/rules_test.yaml
