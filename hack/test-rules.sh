#!/usr/bin/env bash
# Checks and unit-tests the Prometheus rules with promtool (Debian's `prometheus` package),
# installing it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
	echo "+ apt-get install prometheus (for promtool)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends prometheus >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi

run() {
	echo "+ $*"
	"$@"
}
echo "promtool: $(promtool --version 2>&1 | head -n1)"
run promtool check rules config/prometheus/rules.yaml
run promtool test rules config/prometheus/rules_test.yaml
