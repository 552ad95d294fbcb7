#!/usr/bin/env bash
# Builds Kubernetes and etcd binaries from their Go modules into a cache outside the
# repository, keyed by version, and prints the folder. Binaries already there are reused.
#   hack/k8s-binaries.sh kube-apiserver etcd kubectl ...
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
mkdir -p "$BIN"

log() { echo "k8s-binaries: $*" >&2; }

# k8s.io/kubernetes replaces its staging modules with local paths, so it cannot be
# built as a dependency as is: a module of our own points each one at its published version.
k8s_module() {
  local dir="$CACHE/build/k8s-$K8S_VERSION"
  if [ ! -f "$dir/.ready" ]; then
    mkdir -p "$dir"
    local staging=${K8S_VERSION/v1./v0.}
    local gomod
    gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
    {
      echo "module netconform.local/k8sbuild"
      echo
      echo "go 1.26"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      grep -E '=> \./staging/src/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
    } >"$dir/go.mod"
    cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
    (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true; cd "$dir" && go mod download)
    touch "$dir/.ready"
  fi
  echo "$dir"
}

etcd_module() {
  local dir="$CACHE/build/etcd-$ETCD_VERSION"
  if [ ! -f "$dir/.ready" ]; then
    mkdir -p "$dir"
    cat >"$dir/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    printf 'module netconform.local/etcdbuild\n\ngo 1.26\n' >"$dir/go.mod"
    (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1)
    touch "$dir/.ready"
  fi
  echo "$dir"
}

build_k8s() {
  local name=$1 dir minor
  dir=$(k8s_module)
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  log "building $name $K8S_VERSION (a few minutes on a cold cache)"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$BIN/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$BIN/$name.tmp" "$BIN/$name"
}

build_etcd() {
  local dir
  dir=$(etcd_module)
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" .)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
}

for name in "$@"; do
  [ -x "$BIN/$name" ] && continue
  case $name in
    etcd) build_etcd ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy|kubelet|kubectl) build_k8s "$name" ;;
    *) echo "k8s-binaries: unknown component $name" >&2; exit 2 ;;
  esac
done
echo "$BIN"
