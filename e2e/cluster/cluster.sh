#!/usr/bin/env bash
# The local single-node Kubernetes cluster the end-to-end suites and `make demo` run on:
# etcd, kube-apiserver, controller-manager, scheduler, containerd and runc with the bridge
# CNI, kubelet, kube-proxy, CoreDNS as a kube-system pod, and, in the enforcing profile,
# kube-router enforcing NetworkPolicy. The noop profile is the same cluster without it.
#
#   cluster.sh up [enforcing|noop]    start, or switch the profile of a running cluster
#   cluster.sh down                   stop everything and leave nothing behind
#   cluster.sh status                 say what runs
#   cluster.sh load IMAGE.tar         import an image into the cluster's containerd
# Faults, for the fault suite (the cluster must be up):
#   cluster.sh restart-apiserver      stop the API server and start it again
#   cluster.sh kill-enforcer          SIGKILL kube-router, leaving its rules behind
#   cluster.sh start-enforcer         start kube-router again and wait until it has synced
#   cluster.sh kill-container ID      SIGKILL a container's process (a crash, not a stop)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
DIR=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}
K8S_VERSION=${K8S_VERSION:-v1.37.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.13.2}
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}

NODE=netconform-node
POD_CIDR=10.244.0.0/24
GATEWAY=10.244.0.1
SERVICE_CIDR=10.96.0.0/24
API_SERVICE_IP=10.96.0.1
DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
# Off-cluster test hosts: documentation-range addresses in network namespaces of their own.
HOSTS_CIDR=192.0.2.0/24
TEST_HOSTS=("api.partner.example=192.0.2.10:443")
SANDBOX_IMAGE=netconform.local/pause:1
COREDNS_IMAGE=netconform.local/coredns:$COREDNS_VERSION

export KUBECONFIG=$DIR/admin.kubeconfig
CTR=(ctr --address "$DIR/containerd/containerd.sock" -n k8s.io)

log() { printf '%s cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

# write_file writes stdin to a file only when its content changes: kube-proxy exits when
# its configuration file changes under it.
write_file() {
  local tmp
  tmp=$(mktemp "$1.XXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# ---------------------------------------------------------------- prerequisites

install_packages() {
  local pkgs=(containerd runc containernetworking-plugins iptables ipset conntrack iproute2 openssl kmod procps util-linux curl)
  local missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

# go_install builds a Go module's command into the versioned cache, once.
go_install() {
  local module=$1 version=$2 name=$3
  local dir="$CACHE/tools/$name-$version"
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version from its Go module (a few minutes on a cold cache)"
    GOBIN=$dir CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$module@$version"
  fi
  echo "$dir/$name"
}

binaries() {
  BIN=$("$ROOT/hack/k8s-binaries.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
  COREDNS=$(go_install github.com/coredns/coredns "$COREDNS_VERSION" coredns)
  KUBE_ROUTER=$(go_install github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$KUBE_ROUTER_VERSION" kube-router)
  KUBECTL=$BIN/kubectl
}

# ---------------------------------------------------------------- processes

start() {
  local name=$1; shift
  mkdir -p "$DIR/logs" "$DIR/run"
  (close_inherited_fds; exec setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null) &
  echo $! >"$DIR/run/$name.pid"
}

# close_inherited_fds closes every descriptor above stderr: a daemon that inherited the
# caller's lock file (flock LOCK cluster.sh up) would hold the lock for as long as it runs.
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$BASHPID/fd); do
    [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ] && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

running() {
  local pidfile="$DIR/run/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop() {
  local name=$1 pidfile="$DIR/run/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_for polls a command until it succeeds, with progress, or fails naming the log.
wait_for() {
  local what=$1 seconds=$2 logname=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "gave up after ${seconds}s waiting for $what; last lines of $DIR/logs/$logname.log:"
      tail -n 20 "$DIR/logs/$logname.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- network

network_up() {
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  if ! ip link show cni0 >/dev/null 2>&1; then
    ip link add cni0 type bridge
  fi
  ip addr replace "$GATEWAY/24" dev cni0
  ip link set cni0 up
  guard_up
  test_hosts_up
}

# guard keeps every packet from the pod network on the machine: forwarded traffic may
# only go to pods, Services and the test hosts. It sits in the mangle table, which the
# policy enforcer and kube-proxy do not touch, ahead of their filter rules.
guard_up() {
  iptables -t mangle -N NETCONFORM-GUARD 2>/dev/null || iptables -t mangle -F NETCONFORM-GUARD
  for dst in "$POD_CIDR" "$SERVICE_CIDR" "$HOSTS_CIDR"; do
    iptables -t mangle -A NETCONFORM-GUARD -d "$dst" -j RETURN
  done
  iptables -t mangle -A NETCONFORM-GUARD -j DROP
  iptables -t mangle -C FORWARD -s "$POD_CIDR" -j NETCONFORM-GUARD 2>/dev/null ||
    iptables -t mangle -I FORWARD 1 -s "$POD_CIDR" -j NETCONFORM-GUARD
}

guard_down() {
  iptables -t mangle -D FORWARD -s "$POD_CIDR" -j NETCONFORM-GUARD 2>/dev/null || true
  iptables -t mangle -F NETCONFORM-GUARD 2>/dev/null || true
  iptables -t mangle -X NETCONFORM-GUARD 2>/dev/null || true
}

# Each test host is a network namespace with one address, reached through a veth pair
# and a host route, serving TCP with `netconform serve`.
test_hosts_up() {
  local i=0 entry name addr ip port ns
  for entry in "${TEST_HOSTS[@]}"; do
    name=${entry%%=*}; addr=${entry#*=}; ip=${addr%:*}; port=${addr##*:}; ns=nc-host-$i
    if ! ip netns list | grep -cw "$ns" >/dev/null; then
      ip netns add "$ns"
      ip link add "nch$i" type veth peer name eth0 netns "$ns"
      ip link set "nch$i" up
      ip -n "$ns" addr add "$ip/32" dev eth0
      ip -n "$ns" link set lo up
      ip -n "$ns" link set eth0 up
      ip -n "$ns" route add "$GATEWAY" dev eth0
      ip -n "$ns" route add default via "$GATEWAY" dev eth0
      ip route replace "$ip/32" dev "nch$i" src "$GATEWAY"
      sysctl -qw "net.ipv4.conf.nch$i.proxy_arp=1"
    fi
    running "host-$i" || start "host-$i" ip netns exec "$ns" "$NETCONFORM_BIN" serve --tcp "$port"
    i=$((i + 1))
  done
}

test_hosts_down() {
  local i=0 ns
  for _ in "${TEST_HOSTS[@]}"; do
    ns=nc-host-$i
    stop "host-$i"
    ip link del "nch$i" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    i=$((i + 1))
  done
}

hosts_block() {
  local entry name addr
  for entry in "${TEST_HOSTS[@]}"; do
    name=${entry%%=*}; addr=${entry#*=}
    printf '            %s %s\n' "${addr%:*}" "$name"
  done
}

# ---------------------------------------------------------------- certificates

pki() {
  local d=$DIR/pki
  [ -f "$d/.done" ] && return
  mkdir -p "$d"
  log "creating a CA, serving and client certificates and service-account keys"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=netconform-local-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  cat >"$d/apiserver.ext" <<EXT
subjectAltName=IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$GATEWAY,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN
extendedKeyUsage=serverAuth
EXT
  sign "$d" apiserver "/CN=kube-apiserver" "$d/apiserver.ext"
  printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
  sign "$d" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$d/client.ext"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  touch "$d/.done"
}

sign() {
  local d=$1 name=$2 subj=$3 ext=$4
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$d/$name.crt" 2>/dev/null
}

tokens() {
  [ -f "$DIR/tokens.csv" ] && return
  local admin kubelet
  admin=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  kubelet=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s,admin,admin,"system:masters"\n%s,system:node:%s,kubelet,"system:nodes"\n' \
    "$admin" "$kubelet" "$NODE" >"$DIR/tokens.csv"
  kubeconfig admin "$admin" "https://127.0.0.1:6443"
  kubeconfig kubelet "$kubelet" "https://127.0.0.1:6443"
}

kubeconfig() {
  local name=$1 token=$2 server=$3
  cat >"$DIR/$name.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: netconform-local
  cluster:
    server: $server
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $name
  user:
    token: $token
contexts:
- name: netconform-local
  context: {cluster: netconform-local, user: $name}
current-context: netconform-local
KC
}

# ---------------------------------------------------------------- control plane

apiserver_up() {
  local p=$DIR/pki
  running kube-apiserver || start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers http://127.0.0.1:2379 --advertise-address "$GATEWAY" --bind-address 0.0.0.0 \
    --secure-port 6443 --service-cluster-ip-range "$SERVICE_CIDR" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" --client-ca-file "$p/ca.crt" \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --token-auth-file "$DIR/tokens.csv" --authorization-mode Node,RBAC \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --allow-privileged=true --profiling=false
  wait_for "the API server" 120 kube-apiserver "$KUBECTL" get --raw /readyz
}

control_plane_up() {
  local p=$DIR/pki
  running etcd || start etcd "$BIN/etcd" --name "$NODE" --data-dir "$DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE=http://127.0.0.1:2380" --unsafe-no-fsync
  apiserver_up
  running kube-controller-manager || start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
    --root-ca-file "$p/ca.crt" --service-account-private-key-file "$p/sa.key" \
    --use-service-account-credentials=false --leader-elect=false --bind-address 127.0.0.1 \
    --controllers '*,-nodeipam'
  running kube-scheduler || start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$KUBECONFIG" \
    --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
    --leader-elect=false --bind-address 127.0.0.1
}

# ---------------------------------------------------------------- node

containerd_up() {
  mkdir -p "$DIR/containerd" "$DIR/cni/conf" "$DIR/cni/data"
  write_file "$DIR/cni/conf/10-netconform.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "netconform",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$DIR/cni/data", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  write_file "$DIR/containerd/config.toml" <<TOML
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$DIR/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$DIR/containerd/state/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/conf"
TOML
  running containerd || start containerd containerd --config "$DIR/containerd/config.toml"
  wait_for "containerd" 60 containerd "${CTR[@]}" version
}

images_up() {
  local work=$DIR/images
  mkdir -p "$work"
  if ! has_image "$SANDBOX_IMAGE"; then
    log "building the sandbox image"
    (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$work/pause" ./e2e/cluster/pause)
    image "$SANDBOX_IMAGE" "$work/pause.tar" --file "$work/pause=/pause" --entrypoint /pause
  fi
  if ! has_image "$COREDNS_IMAGE"; then
    log "building the CoreDNS image"
    image "$COREDNS_IMAGE" "$work/coredns.tar" --file "$COREDNS=/coredns" --entrypoint /coredns
  fi
}

has_image() {
  "${CTR[@]}" images ls -q 2>/dev/null | grep -c "$1\$" >/dev/null
}

# image builds a single-layer image with go-containerregistry and imports it.
image() {
  local ref=$1 out=$2; shift 2
  (cd "$ROOT" && go run ./e2e/cluster/imagebuild --name "$ref" --out "$out" "$@")
  load "$out"
}

load() {
  "${CTR[@]}" images import --no-unpack=false "$1" >/dev/null
}

kubelet_up() {
  mkdir -p "$DIR/kubelet"
  printf 'nameserver %s\n' "$DNS_IP" | write_file "$DIR/resolv.conf"
  write_file "$DIR/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: ["$DNS_IP"]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $DIR/resolv.conf
containerRuntimeEndpoint: unix://$DIR/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: AlwaysAllow}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {}
maxPods: 250
YAML
  running kubelet || start kubelet "$BIN/kubelet" --config "$DIR/kubelet/config.yaml" \
    --kubeconfig "$DIR/kubelet.kubeconfig" --root-dir "$DIR/kubelet/root" --cert-dir "$DIR/kubelet/pki" \
    --hostname-override "$NODE" --node-ip "$GATEWAY"
  write_file "$DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
YAML
  running kube-proxy || start kube-proxy "$BIN/kube-proxy" --config "$DIR/kube-proxy.yaml"
  wait_for "node $NODE to be Ready" 120 kubelet "$KUBECTL" wait --for=condition=Ready "node/$NODE" --timeout=1s
}

coredns_up() {
  sed -e "s|@IMAGE@|$COREDNS_IMAGE|" -e "s|@DNS_IP@|$DNS_IP|" -e "s|@DOMAIN@|$CLUSTER_DOMAIN|" \
    "$HERE/coredns.yaml" | awk -v hosts="$(hosts_block)" '{ if ($0 ~ /@HOSTS@/) print hosts; else print }' |
    "$KUBECTL" apply -f - >/dev/null
  wait_for "CoreDNS to be available" 120 kubelet "$KUBECTL" -n kube-system rollout status deployment/coredns --timeout=1s
}

# ---------------------------------------------------------------- policy enforcer

enforcer_up() {
  running kube-router && return
  log "starting kube-router (NetworkPolicy enforcement only)"
  start kube-router "$KUBE_ROUTER" --kubeconfig "$KUBECONFIG" --hostname-override "$NODE" \
    --run-firewall=true --run-router=false --run-service-proxy=false --metrics-port 0 --health-port 20244
  wait_for "kube-router to sync its policies" 60 kube-router curl -sf http://127.0.0.1:20244/healthz
}

enforcer_down() {
  if running kube-router; then
    log "stopping kube-router and removing its rules"
  fi
  stop kube-router
  # kube-router leaves its chains and ipsets behind when it stops, and its own
  # --cleanup-config crashes on a kernel without IPVS: remove them here.
  local rules
  rules=$(iptables-save)
  if grep -qE 'KUBE-ROUTER-|KUBE-NWPLCY|KUBE-POD-FW' <<<"$rules"; then
    grep -vE 'KUBE-ROUTER-|KUBE-NWPLCY|KUBE-POD-FW' <<<"$rules" | iptables-restore
  fi
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^KUBE-(SRC|DST)-' || true); do ipset destroy "$set" 2>/dev/null || true; done
}

# ---------------------------------------------------------------- faults

need_up() {
  { [ -f "$DIR/profile" ] && running kube-apiserver; } || die "the local cluster is not up: run 'make cluster-up' first"
}

# alive: a process that exists and is not a zombie waiting to be reaped.
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

restart_apiserver() {
  need_up
  binaries
  log "restarting the API server"
  stop kube-apiserver
  apiserver_up
}

# kill_enforcer crashes kube-router: SIGKILL, so its rules stay behind as after a crash.
kill_enforcer() {
  need_up
  running kube-router || die "kube-router is not running: the fault needs the enforcing profile"
  local pid
  pid=$(cat "$DIR/run/kube-router.pid")
  log "killing kube-router (pid $pid) with SIGKILL"
  kill -KILL "$pid"
  while alive "$pid"; do sleep 0.1; done
  rm -f "$DIR/run/kube-router.pid"
}

start_enforcer() {
  need_up
  binaries
  enforcer_up
}

# kill_container sends SIGKILL to a container's process, as the kernel's OOM killer or a
# crash would end it; the kubelet restarts it by its restart policy.
kill_container() {
  need_up
  [ -n "${1:-}" ] || die "kill-container needs a container ID (a pod's status.containerStatuses[].containerID without containerd://)"
  log "killing container ${1:0:12} with SIGKILL"
  "${CTR[@]}" tasks kill -s SIGKILL "$1" >/dev/null
}

# ---------------------------------------------------------------- commands

up() {
  local profile=${1:-enforcing} t0=$SECONDS
  case $profile in enforcing|noop) ;; *) die "unknown profile '$profile': use enforcing or noop" ;; esac
  [ "$(id -u)" -eq 0 ] || die "the local cluster needs root (network namespaces, iptables, containerd)"
  install_packages
  binaries
  NETCONFORM_BIN=$DIR/bin/netconform
  mkdir -p "$DIR/bin"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$NETCONFORM_BIN" ./cmd/netconform)
  if [ -f "$DIR/profile" ] && ! healthy; then
    log "found a cluster that is not healthy (a crash?): cleaning it up first"
    down
  fi
  mkdir -p "$DIR"
  network_up
  pki
  tokens
  control_plane_up
  containerd_up
  images_up
  kubelet_up
  coredns_up
  if [ "$profile" = enforcing ]; then enforcer_up; else enforcer_down; fi
  echo "$profile" >"$DIR/profile"
  log "cluster up, profile $profile, in $((SECONDS - t0))s"
  echo "export KUBECONFIG=$KUBECONFIG"
}

healthy() {
  running etcd && running kube-apiserver && running containerd && running kubelet &&
    "$BIN/kubectl" get --raw /readyz >/dev/null 2>&1
}

down() {
  # Only binaries already built: taking the cluster down never builds anything.
  BIN=$CACHE/k8s-$K8S_VERSION-etcd-${ETCD_VERSION:-v3.6.16}/bin
  log "stopping the local cluster"
  enforcer_down
  # Pods first, so that containerd tears down their network namespaces through the CNI.
  if running kubelet && running containerd; then
    stop kubelet
    local pods
    pods=$(crictl_pods)
    [ -n "$pods" ] && for p in $pods; do "${CTR[@]}" tasks kill -s KILL "$p" >/dev/null 2>&1 || true; done
  fi
  for name in kubelet kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do
    stop "$name"
  done
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $DIR/containerd" 2>/dev/null || true
  [ -n "${BIN:-}" ] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  test_hosts_down
  guard_down
  # Whatever chains kube-proxy, the kubelet and kube-router left in either family.
  local save
  for family in iptables ip6tables; do
    save=$("$family-save")
    if grep -qE 'KUBE-' <<<"$save"; then grep -vE 'KUBE-' <<<"$save" | "$family-restore"; fi
  done
  # Mounts under the cluster's folder (kubelet volumes, containerd rootfs and shm).
  local m
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do ip netns del "$ns" || true; done
  ip link del cni0 2>/dev/null || true
  rm -rf "$DIR/containerd/state" "$DIR/etcd" "$DIR/kubelet" "$DIR/cni/data" "$DIR/profile" "$DIR/run" \
    "$DIR/tokens.csv" "$DIR"/*.kubeconfig
  log "the local cluster is down"
}

crictl_pods() {
  "${CTR[@]}" tasks ls -q 2>/dev/null || true
}

status() {
  local name
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router; do
    if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
  done
  [ -f "$DIR/profile" ] && echo "profile: $(cat "$DIR/profile")"
  echo "kubeconfig: $KUBECONFIG"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  load) shift; load "$1" ;;
  restart-apiserver) restart_apiserver ;;
  kill-enforcer) kill_enforcer ;;
  start-enforcer) start_enforcer ;;
  kill-container) shift; kill_container "${1:-}" ;;
  *) echo "usage: $0 up [enforcing|noop] | down | status | load IMAGE.tar | restart-apiserver | kill-enforcer | start-enforcer | kill-container ID" >&2; exit 2 ;;
esac
