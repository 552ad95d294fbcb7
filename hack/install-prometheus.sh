#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus and promtool) when missing: the alert
# rules' unit tests use promtool, the end-to-end suites a real Prometheus server.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
	exit 0
fi
echo "+ apt-get install prometheus" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends prometheus >/dev/null ||
	{ apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }
