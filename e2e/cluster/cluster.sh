#!/usr/bin/env bash
# The local Kubernetes cluster the end-to-end suites and `make demo` run on: etcd,
# kube-apiserver, controller-manager, scheduler and CoreDNS, and one or more nodes, each
# with containerd and runc with the bridge CNI, a kubelet, kube-proxy and, where the profile
# says so, kube-router enforcing NetworkPolicy.
#
# Node 1 (netconform-node) lives in the host's network namespace, pods in 10.244.0.0/24.
# Node i > 1 (netconform-node-i) is a network namespace of its own with its own iptables,
# ipsets, routes and bridge, reached from the host over a veth (host 10.250.i.1, node
# 10.250.i.2); its pods are in 10.244.(i-1).0/24, routed through the host, so traffic
# between pods of two nodes crosses both nodes' filters.
#
#   NODES=3 cluster.sh up [enforcing|noop|partial]
#                                     start, or switch the profile or node count of a running
#                                     cluster (NODES unset: as many as run, else 1)
#   cluster.sh down                   stop everything and leave nothing behind
#   cluster.sh status                 say what runs, one line per node; open-node=NAME for partial
#   cluster.sh load IMAGE.tar         import an image into every node's containerd
#   cluster.sh guard-drops            packets the forwarding guard dropped since it was set up
#   cluster.sh leftovers              list what the cluster left on the machine; fails if anything
# Profiles: enforcing (kube-router on every node), noop (on none), partial (on every node
# but the last, the open node, also written to $DIR/open-node).
# Faults, for the fault suite (the cluster must be up):
#   cluster.sh restart-apiserver      stop the API server and start it again
#   cluster.sh kill-enforcer [NODE]   SIGKILL kube-router (every running one), leaving its rules
#   cluster.sh start-enforcer [NODE]  start kube-router again (on the profile's nodes) and wait
#                                     until it has synced
#   cluster.sh kill-container ID      SIGKILL a container's process, on whichever node runs it
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NETCONFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netconform}
DIR=${NETCONFORM_CLUSTER_DIR:-$CACHE/cluster}
K8S_VERSION=${K8S_VERSION:-v1.37.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.13.2}
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}

NODE=netconform-node
# GATEWAY is node 1's bridge address: its node IP and the API server's advertise address.
GATEWAY=10.244.0.1
# CLUSTER_CIDR holds every node's pod range (10.244.(i-1).0/24).
CLUSTER_CIDR=10.244.0.0/16
MAX_NODES=20
SERVICE_CIDR=10.96.0.0/24
API_SERVICE_IP=10.96.0.1
DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
# Off-cluster test hosts: documentation-range addresses in network namespaces of their own.
# The machine's own network may use the same range (here eth0 is 192.0.2.2/24 with its
# gateway at 192.0.2.1), so the guard admits each test host's address, not the range.
TEST_HOSTS=("api.partner.example=192.0.2.10:443")
SANDBOX_IMAGE=netconform.local/pause:1
COREDNS_IMAGE=netconform.local/coredns:$COREDNS_VERSION

export KUBECONFIG=$DIR/admin.kubeconfig
# Daemons inside a node's network namespace reach the API server on the host bridge.
GATEWAY_KUBECONFIG=$DIR/gateway-admin.kubeconfig

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

# ---------------------------------------------------------------- nodes

node_name() { if [ "$1" -eq 1 ]; then echo "$NODE"; else echo "$NODE-$1"; fi; }

# node_index is the inverse of node_name; it fails on a name that is no node's.
node_index() {
  case $1 in
    "$NODE") echo 1 ;;
    "$NODE"-[2-9] | "$NODE"-[1-9][0-9]) echo "${1#"$NODE"-}" ;;
    *) return 1 ;;
  esac
}

# use_node sets the N_* variables that describe node i. Node 1 keeps the paths and
# process names of the single-node cluster.
use_node() {
  N_INDEX=$1
  N_NAME=$(node_name "$1")
  N_POD_CIDR=10.244.$(($1 - 1)).0/24
  N_GATEWAY=10.244.$(($1 - 1)).1
  if [ "$1" -eq 1 ]; then
    N_DIR=$DIR N_NETNS= N_PROC= N_IP=$GATEWAY N_NETWORK=netconform
    N_SERVER=https://127.0.0.1:6443 N_KUBECONFIG=$KUBECONFIG N_CGROUP=
    N_EXEC=()
  else
    N_DIR=$DIR/nodes/$N_NAME N_NETNS=$N_NAME N_PROC=$N_NAME/ N_IP=10.250.$1.2 N_NETWORK=netconform-$N_NAME
    N_SERVER=https://$GATEWAY:6443 N_KUBECONFIG=$GATEWAY_KUBECONFIG N_CGROUP=$N_NAME
    # nsenter --net, not `ip netns exec`: the latter remounts /sys and hides the cgroup
    # filesystems from the kubelet and containerd.
    N_EXEC=(nsenter "--net=/run/netns/$N_NETNS" --)
  fi
  N_HOST_IP=10.250.$1.1
  N_VETH=ncn$1
  N_CTR=(ctr --address "$N_DIR/containerd/containerd.sock" -n k8s.io)
}

# nodes_up lists the indexes of the nodes of the running cluster (1 when none is recorded).
nodes_up() {
  local n=1
  [ -f "$DIR/nodes/count" ] && n=$(cat "$DIR/nodes/count")
  seq 1 "$n"
}

# nodes_present lists the indexes of every node that left anything behind: state folders
# and network namespaces, whatever the recorded count says (a crash may have lost it).
nodes_present() {
  {
    nodes_up
    local d
    # A folder only holds its containerd root (the image cache) once the node is down.
    for d in "$DIR"/nodes/"$NODE"-*/; do
      { [ -d "$d/kubelet" ] || [ -d "$d/containerd/state" ]; } && { node_index "$(basename "$d")" || true; }
    done
    for d in $(ip netns list 2>/dev/null | awk '{print $1}'); do node_index "$d" 2>/dev/null || true; done
  } | sort -nu
}

# enforced says whether the profile runs kube-router on node i of n.
enforced() {
  local profile=$1 i=$2 n=$3
  case $profile in
    enforcing) return 0 ;;
    partial) [ "$i" -lt "$n" ] ;;
    *) return 1 ;;
  esac
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

# start runs a daemon in its own session; a name such as netconform-node-2/kubelet keeps
# its log and pid file in a folder per node.
start() {
  local name=$1; shift
  mkdir -p "$(dirname "$DIR/logs/$name")" "$(dirname "$DIR/run/$name")"
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
  local n=$1 i
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.ipv6.conf.all.forwarding=0
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  if ! ip link show cni0 >/dev/null 2>&1; then
    ip link add cni0 type bridge
  fi
  ip addr replace "$GATEWAY/24" dev cni0
  ip link set cni0 up
  for i in $(seq 2 "$n"); do use_node "$i"; node_network_up; done
  guard_up "$n"
  test_hosts_up
}

# node_network_up gives node i > 1 its network namespace: a veth to the host, a default
# route through it, its own cni0 bridge, forwarding and bridge filtering switched on
# inside, and a host route for its pod range.
node_network_up() {
  if [ ! -e "/run/netns/$N_NETNS" ]; then
    ip netns add "$N_NETNS"
  fi
  if ! ip link show "$N_VETH" >/dev/null 2>&1; then
    ip link add "$N_VETH" type veth peer name eth0 netns "$N_NETNS"
  fi
  ip addr replace "$N_HOST_IP/30" dev "$N_VETH"
  ip link set "$N_VETH" up
  ip -n "$N_NETNS" link set lo up
  ip -n "$N_NETNS" addr replace "$N_IP/30" dev eth0
  ip -n "$N_NETNS" link set eth0 up
  ip -n "$N_NETNS" route replace default via "$N_HOST_IP"
  ip -n "$N_NETNS" link show cni0 >/dev/null 2>&1 || ip -n "$N_NETNS" link add cni0 type bridge
  ip -n "$N_NETNS" addr replace "$N_GATEWAY/24" dev cni0
  ip -n "$N_NETNS" link set cni0 up
  "${N_EXEC[@]}" sysctl -qw net.ipv4.ip_forward=1
  "${N_EXEC[@]}" sysctl -qw net.bridge.bridge-nf-call-iptables=1
  "${N_EXEC[@]}" sysctl -qw net.ipv6.conf.all.forwarding=0
  ip route replace "$N_POD_CIDR" via "$N_IP" dev "$N_VETH"
}

node_network_down() {
  ip link del "$N_VETH" 2>/dev/null || true
  ip route del "$N_POD_CIDR" 2>/dev/null || true
  # Deleting the namespace takes its iptables rules, ipsets, routes and bridge with it.
  ip netns del "$N_NETNS" 2>/dev/null || true
}

# guard keeps every packet from the cluster on the machine. It judges packets by the
# interfaces they cross, not by their addresses, which a pod with CAP_NET_RAW can forge:
# - forwarded IPv4 may leave only through the cluster's own interfaces (cni0, the node
#   veths ncn*, the test hosts' veths nch*), and there only to pods, node addresses,
#   Services and the test hosts' own addresses; whatever would leave through any other
#   interface (eth0, the sink) is dropped, whatever its source;
# - the host itself sends nothing from a pod, node or Service address out of any other
#   interface;
# - forwarded IPv6 is dropped: the cluster is IPv4 only;
# - a ClusterIP no Service owns is not rewritten by kube-proxy and would follow the default
#   route: routing rules for what arrives on the cluster's interfaces answer it with
#   "prohibited" (kube-proxy's DNAT comes first, so real Services still route).
# The rules sit in the mangle table, which the policy enforcer and kube-proxy do not
# touch, ahead of their filter rules, and are rewritten in one iptables-restore so they
# are never open while they change. Nodes in network namespaces send everything through
# the host, so this one guard covers every node.
GUARD_IFACES=(cni0 "ncn+" "nch+")
GUARD_RULE_PRIORITY=90
# The documentation ranges tests send to as addresses off the machine are routed into a
# sink namespace that forwards nothing: should the guard fail, they still go nowhere.
SINK_NS=nc-sink SINK_VETH=ncsink
SINK_ROUTES=(203.0.113.0/24 198.51.100.0/24)

guard_up() {
  local n=$1 i entry iface src dst allowed=("$SERVICE_CIDR")
  for entry in "${TEST_HOSTS[@]}"; do entry=${entry#*=}; allowed+=("${entry%:*}/32"); done
  for i in $(seq 1 "$n"); do
    use_node "$i"
    allowed+=("$N_POD_CIDR")
    if [ "$i" -gt 1 ]; then allowed+=("$N_HOST_IP/30"); fi
  done
  sink_up
  {
    echo '*mangle'
    echo ':NETCONFORM-GUARD - [0:0]'
    echo ':NETCONFORM-GUARD-DST - [0:0]'
    echo ':NETCONFORM-GUARD-OUT - [0:0]'
    for iface in "${GUARD_IFACES[@]}"; do echo "-A NETCONFORM-GUARD -o $iface -g NETCONFORM-GUARD-DST"; done
    echo '-A NETCONFORM-GUARD -j DROP'
    for dst in "${allowed[@]}"; do echo "-A NETCONFORM-GUARD-DST -d $dst -j RETURN"; done
    echo '-A NETCONFORM-GUARD-DST -j DROP'
    for iface in lo "${GUARD_IFACES[@]}"; do echo "-A NETCONFORM-GUARD-OUT -o $iface -j RETURN"; done
    for src in "$CLUSTER_CIDR" 10.250.0.0/16 "$SERVICE_CIDR"; do echo "-A NETCONFORM-GUARD-OUT -s $src -j DROP"; done
    echo 'COMMIT'
  } | iptables-restore --noflush
  guard_jump iptables FORWARD NETCONFORM-GUARD
  guard_jump iptables OUTPUT NETCONFORM-GUARD-OUT
  printf '*mangle\n:NETCONFORM-GUARD - [0:0]\n-A NETCONFORM-GUARD -j DROP\nCOMMIT\n' | ip6tables-restore --noflush
  guard_jump ip6tables FORWARD NETCONFORM-GUARD
  guard_rules_up "$n"
}

# guard_jump makes CHAIN the first rule of the mangle table's HOOK, and removes any other
# jump to it (a guard of an older layout jumped by source).
guard_jump() {
  local family=$1 hook=$2 chain=$3 rule
  "$family" -t mangle -C "$hook" -j "$chain" 2>/dev/null || "$family" -t mangle -I "$hook" 1 -j "$chain"
  while read -r rule; do
    [ "$rule" = "-A $hook -j $chain" ] && continue
    eval "$family -t mangle ${rule/-A/-D}" 2>/dev/null || true
  done < <("$family" -t mangle -S "$hook" | grep -- "-j $chain\$" || true)
}

# guard_rules_up answers a Service address with "prohibited" for what arrives on each of
# the cluster's interfaces (a routing rule matches one interface by name).
guard_rules_up() {
  local n=$1 i iface ifaces=(cni0)
  for i in $(seq 2 "$n"); do ifaces+=("ncn$i"); done
  for i in "${!TEST_HOSTS[@]}"; do ifaces+=("nch$i"); done
  guard_rules_down
  for iface in "${ifaces[@]}"; do
    ip rule add priority "$GUARD_RULE_PRIORITY" iif "$iface" to "$SERVICE_CIDR" prohibit
  done
}

guard_rules_down() {
  while ip rule del priority "$GUARD_RULE_PRIORITY" 2>/dev/null; do :; done
}

# sink_up routes the documentation ranges into a namespace that forwards nothing.
sink_up() {
  if [ ! -e "/run/netns/$SINK_NS" ]; then
    ip netns add "$SINK_NS"
    ip link add "$SINK_VETH" type veth peer name eth0 netns "$SINK_NS"
  fi
  ip link set "$SINK_VETH" up
  ip -n "$SINK_NS" link set eth0 up
  "${SINK_EXEC[@]}" sysctl -qw net.ipv4.ip_forward=0
  local r
  for r in "${SINK_ROUTES[@]}"; do ip route replace "$r" dev "$SINK_VETH"; done
}
SINK_EXEC=(nsenter "--net=/run/netns/$SINK_NS" --)

sink_down() {
  ip link del "$SINK_VETH" 2>/dev/null || true
  ip netns del "$SINK_NS" 2>/dev/null || true
}

guard_down() {
  local family rule chain
  for family in iptables ip6tables; do
    while read -r rule; do
      eval "$family -t mangle ${rule/-A/-D}" 2>/dev/null || true
    done < <("$family" -t mangle -S 2>/dev/null | grep -E -- '^-A (FORWARD|OUTPUT) .*-j NETCONFORM-GUARD' || true)
    for chain in NETCONFORM-GUARD NETCONFORM-GUARD-DST NETCONFORM-GUARD-OUT; do
      "$family" -t mangle -F "$chain" 2>/dev/null || true
    done
    for chain in NETCONFORM-GUARD NETCONFORM-GUARD-DST NETCONFORM-GUARD-OUT; do
      "$family" -t mangle -X "$chain" 2>/dev/null || true
    done
  done
  guard_rules_down
  sink_down
}

# guard_drops prints how many IPv4 packets the guard dropped, forwarded or sent by the host.
guard_drops() {
  iptables -t mangle -S NETCONFORM-GUARD >/dev/null 2>&1 ||
    die "the forwarding guard is not set up: is the local cluster up?"
  local chain
  for chain in NETCONFORM-GUARD NETCONFORM-GUARD-DST NETCONFORM-GUARD-OUT; do
    iptables -t mangle -L "$chain" -v -x -n 2>/dev/null | awk '$3 == "DROP" {print $1}'
  done | awk '{s += $1} END {print s + 0}'
}

# Each test host is a network namespace with one address, reached through a veth pair
# and a host route, serving TCP with `netconform serve`. Pods of every node reach it
# through the host.
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

random_token() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# tokens gives the admin and every node's kubelet a token of its own; a kubelet is
# system:node:<name> in system:nodes, so the Node authorizer limits it to its own node.
# The API server reads the file only when it starts, so the file holds a token for every
# node the cluster may grow to: adding nodes then needs no restart, which would leave
# CoreDNS and the enforcers watching a restarted API server. A file without them (an older
# cluster) gets them, and tokens sets TOKENS_ADDED.
tokens() {
  local n=$1 i admin token uid
  TOKENS_ADDED=
  if [ ! -f "$DIR/tokens.csv" ]; then
    admin=$(random_token)
    printf '%s,admin,admin,"system:masters"\n' "$admin" >"$DIR/tokens.csv"
  fi
  admin=$(awk -F, '$2 == "admin" {print $1}' "$DIR/tokens.csv")
  kubeconfig "$DIR/admin.kubeconfig" admin "$admin" "https://127.0.0.1:6443"
  kubeconfig "$GATEWAY_KUBECONFIG" admin "$admin" "https://$GATEWAY:6443"
  for i in $(seq 1 "$MAX_NODES"); do
    use_node "$i"
    token=$(awk -F, -v u="system:node:$N_NAME" '$2 == u {print $1}' "$DIR/tokens.csv")
    if [ -z "$token" ]; then
      token=$(random_token) uid=kubelet
      [ "$i" -gt 1 ] && uid=kubelet-$i
      printf '%s,system:node:%s,%s,"system:nodes"\n' "$token" "$N_NAME" "$uid" >>"$DIR/tokens.csv"
      TOKENS_ADDED=1
    fi
    if [ "$i" -le "$n" ]; then
      mkdir -p "$N_DIR"
      kubeconfig "$N_DIR/kubelet.kubeconfig" "$N_NAME" "$token" "$N_SERVER"
    fi
  done
}

kubeconfig() {
  local file=$1 name=$2 token=$3 server=$4
  write_file "$file" <<KC
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

# containerd_up starts the node's containerd with a root, state, socket and CNI
# configuration of its own; the host-local IPAM plugin keeps its allocations under a
# network name and data folder of the node's own.
containerd_up() {
  mkdir -p "$N_DIR/containerd" "$N_DIR/cni/conf" "$N_DIR/cni/data"
  write_file "$N_DIR/cni/conf/10-netconform.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "$N_NETWORK",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$N_DIR/cni/data", "ranges": [[{"subnet": "$N_POD_CIDR", "gateway": "$N_GATEWAY"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  write_file "$N_DIR/containerd/config.toml" <<TOML
version = 2
root = "$N_DIR/containerd/root"
state = "$N_DIR/containerd/state"
[grpc]
  address = "$N_DIR/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$N_DIR/containerd/state/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N_DIR/cni/conf"
TOML
  running "${N_PROC}containerd" || start "${N_PROC}containerd" "${N_EXEC[@]}" containerd --config "$N_DIR/containerd/config.toml"
  wait_for "containerd on $N_NAME" 60 "${N_PROC}containerd" "${N_CTR[@]}" version
}

# images_up imports the sandbox and CoreDNS images where the node lacks them, building
# each image at most once per run.
images_up() {
  mkdir -p "$DIR/images"
  has_image "$SANDBOX_IMAGE" || load_built "$SANDBOX_IMAGE" "$DIR/images/pause.tar" build_pause
  has_image "$COREDNS_IMAGE" || load_built "$COREDNS_IMAGE" "$DIR/images/coredns.tar" build_coredns
}

declare -A BUILT=()
load_built() {
  local ref=$1 tar=$2 build=$3
  if [ -z "${BUILT[$ref]:-}" ]; then
    "$build" "$ref" "$tar"
    BUILT[$ref]=1
  fi
  load "$tar"
}

build_pause() {
  log "building the sandbox image"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$DIR/images/pause" ./e2e/cluster/pause)
  image "$1" "$2" --file "$DIR/images/pause=/pause" --entrypoint /pause
}

build_coredns() {
  log "building the CoreDNS image"
  image "$1" "$2" --file "$COREDNS=/coredns" --entrypoint /coredns
}

has_image() {
  "${N_CTR[@]}" images ls -q 2>/dev/null | grep -c "$1\$" >/dev/null
}

# image builds a single-layer image with go-containerregistry.
image() {
  local ref=$1 out=$2; shift 2
  (cd "$ROOT" && go run ./e2e/cluster/imagebuild --name "$ref" --out "$out" "$@")
}

# load imports an image into the current node's containerd.
load() {
  "${N_CTR[@]}" images import --no-unpack=false "$1" >/dev/null
}

# load_everywhere imports an image into every node's containerd: each has a content
# store of its own.
load_everywhere() {
  [ -f "${1:-}" ] || die "load needs an image tar file, got '${1:-}'"
  local i
  for i in $(nodes_up); do use_node "$i"; load "$1"; done
}

# node_cgroups_up makes the node's cgroup root in every hierarchy: its kubelet refuses to
# start until /<name> exists in each, and a new cpuset has no CPUs until given its parent's.
node_cgroups_up() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$N_CGROUP" ] || mkdir "$h$N_CGROUP"
  done
  local cpuset=/sys/fs/cgroup/cpuset
  if [ -f "$cpuset/cpuset.cpus" ]; then
    [ -n "$(cat "$cpuset/$N_CGROUP/cpuset.cpus")" ] || cat "$cpuset/cpuset.cpus" >"$cpuset/$N_CGROUP/cpuset.cpus"
    [ -n "$(cat "$cpuset/$N_CGROUP/cpuset.mems")" ] || cat "$cpuset/cpuset.mems" >"$cpuset/$N_CGROUP/cpuset.mems"
  fi
}

# cgroups_down removes a cgroup tree from every hierarchy, once its processes are gone.
cgroups_down() {
  local name=$1 h
  for _ in $(seq 20); do
    for h in /sys/fs/cgroup/*/; do
      [ -d "$h$name" ] && { find "$h$name" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
    done
    compgen -G "/sys/fs/cgroup/*/$name" >/dev/null || return 0
    sleep 0.1
  done
  log "warning: cgroups left behind (processes still in them): $(compgen -G "/sys/fs/cgroup/*/$name" | tr '\n' ' ')"
}

kubelet_up() {
  mkdir -p "$N_DIR/kubelet"
  printf 'nameserver %s\n' "$DNS_IP" | write_file "$DIR/resolv.conf"
  # A node in a namespace has a cgroup root and a pod log folder of its own: a kubelet
  # removes the log folders of pods it does not know from its folder, so in a shared
  # /var/log/pods node 1's kubelet deletes the other nodes' pods' logs.
  local own=
  if [ -n "$N_CGROUP" ]; then
    node_cgroups_up
    own="cgroupRoot: /$N_CGROUP
podLogsDir: $N_DIR/kubelet/pod-logs"
  fi
  write_file "$N_DIR/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: ["$DNS_IP"]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $DIR/resolv.conf
containerRuntimeEndpoint: unix://$N_DIR/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $DIR/pki/ca.crt}
authorization: {mode: AlwaysAllow}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {}
maxPods: 250
$own
YAML
  running "${N_PROC}kubelet" || start "${N_PROC}kubelet" "${N_EXEC[@]}" "$BIN/kubelet" --config "$N_DIR/kubelet/config.yaml" \
    --kubeconfig "$N_DIR/kubelet.kubeconfig" --root-dir "$N_DIR/kubelet/root" --cert-dir "$N_DIR/kubelet/pki" \
    --hostname-override "$N_NAME" --node-ip "$N_IP"
  write_file "$N_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $N_KUBECONFIG}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $N_NAME
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
YAML
  running "${N_PROC}kube-proxy" || start "${N_PROC}kube-proxy" "${N_EXEC[@]}" "$BIN/kube-proxy" --config "$N_DIR/kube-proxy.yaml"
}

node_ready() {
  wait_for "node $N_NAME to be Ready" 120 "${N_PROC}kubelet" "$KUBECTL" wait --for=condition=Ready "node/$N_NAME" --timeout=1s
}

# node_down stops a node's daemons and pods. A node in a network namespace also loses
# its mounts, namespace (with its rules, ipsets and bridge), cgroups and state; node 1's
# are the host's, which down clears.
node_down() {
  if [ "$N_INDEX" -eq 1 ]; then enforcer_down; else stop "${N_PROC}kube-router"; fi
  # Pods first, so that they do not outlive containerd.
  if running "${N_PROC}kubelet" && running "${N_PROC}containerd"; then
    stop "${N_PROC}kubelet"
    local task
    for task in $("${N_CTR[@]}" tasks ls -q 2>/dev/null || true); do
      "${N_CTR[@]}" tasks kill -s KILL "$task" >/dev/null 2>&1 || true
    done
  fi
  local name pids=()
  for name in kubelet kube-proxy containerd; do stop "${N_PROC}$name" & pids+=($!); done
  wait "${pids[@]}"
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $N_DIR/containerd/containerd.sock" 2>/dev/null || true
  [ "$N_INDEX" -eq 1 ] && return
  local m
  for m in $(awk -v d="$N_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  node_network_down
  cgroups_down "$N_CGROUP"
  # The containerd root stays, as node 1's does: it holds the imported images.
  rm -rf "$N_DIR/containerd/state" "$N_DIR/kubelet" "$N_DIR/cni/data" "$DIR/run/$N_NAME"
}

coredns_up() {
  sed -e "s|@IMAGE@|$COREDNS_IMAGE|" -e "s|@DNS_IP@|$DNS_IP|" -e "s|@DOMAIN@|$CLUSTER_DOMAIN|" \
    "$HERE/coredns.yaml" | awk -v hosts="$(hosts_block)" '{ if ($0 ~ /@HOSTS@/) print hosts; else print }' |
    "$KUBECTL" apply -f - >/dev/null
  wait_for "CoreDNS to be available" 120 kubelet "$KUBECTL" -n kube-system rollout status deployment/coredns --timeout=1s
}

# ---------------------------------------------------------------- policy enforcer

# kube-router of node i runs in the node's network namespace and programs only its
# iptables and ipsets: it filters the traffic of the node's own pods.
enforcer_up() {
  running "${N_PROC}kube-router" && return
  log "starting kube-router on $N_NAME (NetworkPolicy enforcement only)"
  start "${N_PROC}kube-router" "${N_EXEC[@]}" "$KUBE_ROUTER" --kubeconfig "$N_KUBECONFIG" --hostname-override "$N_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --metrics-port 0 --health-port 20244
}

enforcer_synced() {
  wait_for "kube-router on $N_NAME to sync its policies" 60 "${N_PROC}kube-router" "${N_EXEC[@]}" curl -sf http://127.0.0.1:20244/healthz
}

enforcer_down() {
  if running "${N_PROC}kube-router"; then
    log "stopping kube-router on $N_NAME and removing its rules"
  fi
  stop "${N_PROC}kube-router"
  # kube-router leaves its chains and ipsets behind when it stops, and its own
  # --cleanup-config crashes on a kernel without IPVS: remove them here.
  local rules
  rules=$("${N_EXEC[@]}" iptables-save)
  if grep -qE 'KUBE-ROUTER-|KUBE-NWPLCY|KUBE-POD-FW' <<<"$rules"; then
    grep -vE 'KUBE-ROUTER-|KUBE-NWPLCY|KUBE-POD-FW' <<<"$rules" | "${N_EXEC[@]}" iptables-restore
  fi
  local set
  for set in $("${N_EXEC[@]}" ipset list -n 2>/dev/null | grep -E '^KUBE-(SRC|DST)-' || true); do
    "${N_EXEC[@]}" ipset destroy "$set" 2>/dev/null || true
  done
}

# enforcers_match starts kube-router on the nodes the profile enforces, stops it on the
# others, and waits until every one started has synced.
enforcers_match() {
  local profile=$1 n=$2 i
  for i in $(seq 1 "$n"); do
    use_node "$i"
    if enforced "$profile" "$i" "$n"; then enforcer_up; else enforcer_down; fi
  done
  for i in $(seq 1 "$n"); do
    use_node "$i"
    if enforced "$profile" "$i" "$n"; then enforcer_synced; fi
  done
}

# ---------------------------------------------------------------- faults

need_up() {
  { [ -f "$DIR/profile" ] && running kube-apiserver; } || die "the local cluster is not up: run 'make cluster-up' first"
}

# alive: a process that exists and is not a zombie waiting to be reaped.
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# nodes_named lists the index of the node named, or of every node when no name is given.
nodes_named() {
  if [ -z "${1:-}" ]; then nodes_up; return; fi
  local i
  i=$(node_index "$1") && nodes_up | grep -qx "$i" ||
    die "no node '$1' in the local cluster: its nodes are $(for j in $(nodes_up); do node_name "$j"; done | tr '\n' ' ')"
  echo "$i"
}

restart_apiserver() {
  need_up
  binaries
  log "restarting the API server"
  stop kube-apiserver
  apiserver_up
}

# kill_enforcer crashes kube-router on the node named, or on every node where it runs:
# SIGKILL, so its rules stay behind as after a crash.
kill_enforcer() {
  need_up
  local i pid killed=0 targets
  targets=$(nodes_named "${1:-}") || exit 1
  for i in $targets; do
    use_node "$i"
    if ! running "${N_PROC}kube-router"; then
      [ -n "${1:-}" ] && die "kube-router is not running on $N_NAME"
      continue
    fi
    pid=$(cat "$DIR/run/${N_PROC}kube-router.pid")
    log "killing kube-router on $N_NAME (pid $pid) with SIGKILL"
    kill -KILL "$pid"
    while alive "$pid"; do sleep 0.1; done
    rm -f "$DIR/run/${N_PROC}kube-router.pid"
    killed=$((killed + 1))
  done
  [ "$killed" -gt 0 ] || die "kube-router is not running on any node: the fault needs the enforcing or partial profile"
}

# start_enforcer starts kube-router on the node named, or on every node the profile
# enforces, and waits until each has synced.
start_enforcer() {
  need_up
  binaries
  local profile n i targets=()
  profile=$(cat "$DIR/profile")
  n=$(nodes_up | wc -l)
  if [ -n "${1:-}" ]; then
    targets=("$(nodes_named "$1")") || exit 1
  else
    for i in $(nodes_up); do enforced "$profile" "$i" "$n" && targets+=("$i"); done
    [ ${#targets[@]} -gt 0 ] || die "the $profile profile runs no enforcer: name the node to start one on"
  fi
  for i in "${targets[@]}"; do use_node "$i"; enforcer_up; done
  for i in "${targets[@]}"; do use_node "$i"; enforcer_synced; done
}

# kill_container sends SIGKILL to a container's process, as the kernel's OOM killer or a
# crash would end it; the kubelet restarts it by its restart policy.
kill_container() {
  need_up
  [ -n "${1:-}" ] || die "kill-container needs a container ID (a pod's status.containerStatuses[].containerID without containerd://)"
  local i
  for i in $(nodes_up); do
    use_node "$i"
    if "${N_CTR[@]}" tasks ls -q 2>/dev/null | grep -qx "$1"; then
      log "killing container ${1:0:12} on $N_NAME with SIGKILL"
      "${N_CTR[@]}" tasks kill -s SIGKILL "$1" >/dev/null
      return
    fi
  done
  die "no running container ${1:0:12} on any node"
}

# ---------------------------------------------------------------- commands

# node_count is NODES, or the running cluster's count, or 1.
node_count() {
  local n=${NODES:-}
  if [ -z "$n" ]; then
    n=1
    [ -f "$DIR/profile" ] && n=$(nodes_up | wc -l)
  fi
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX_NODES ] ||
    die "NODES=$n: want a whole number of nodes from 1 to $MAX_NODES"
  echo "$n"
}

up() {
  local profile=${1:-enforcing} t0=$SECONDS n i
  case $profile in enforcing|noop|partial) ;; *) die "unknown profile '$profile': use enforcing, noop or partial" ;; esac
  [ "$(id -u)" -eq 0 ] || die "the local cluster needs root (network namespaces, iptables, containerd)"
  n=$(node_count)
  [ "$profile" != partial ] || [ "$n" -ge 2 ] ||
    die "the partial profile leaves the last node without an enforcer, so it needs NODES=2 or more (NODES=$n)"
  install_packages
  binaries
  NETCONFORM_BIN=$DIR/bin/netconform
  mkdir -p "$DIR/bin" "$DIR/nodes"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$NETCONFORM_BIN" ./cmd/netconform)
  if [ -f "$DIR/profile" ] && ! healthy; then
    log "found a cluster that is not healthy (a crash?): cleaning it up first"
    down
  fi
  local extra
  extra=$(nodes_present | awk -v n="$n" '$1 > n')
  mkdir -p "$DIR/nodes"
  echo "$n" >"$DIR/nodes/count"
  network_up "$n"
  pki
  local apiserver_was_up=
  running kube-apiserver && apiserver_was_up=1
  tokens "$n"
  if [ -n "$TOKENS_ADDED" ] && [ -n "$apiserver_was_up" ]; then
    log "restarting the API server to read the nodes' tokens (a cluster started by an older cluster.sh)"
    stop kube-apiserver
  fi
  control_plane_up
  for i in $extra; do
    use_node "$i"
    log "removing node $N_NAME"
    node_down
    "$KUBECTL" delete node "$N_NAME" --ignore-not-found >/dev/null
  done
  for i in $(seq 1 "$n"); do use_node "$i"; containerd_up; images_up; kubelet_up; done
  for i in $(seq 1 "$n"); do use_node "$i"; node_ready; done
  coredns_up
  enforcers_match "$profile" "$n"
  echo "$profile" >"$DIR/profile"
  if [ "$profile" = partial ]; then node_name "$n" >"$DIR/open-node"; else rm -f "$DIR/open-node"; fi
  log "cluster up, profile $profile, $n node(s), in $((SECONDS - t0))s"
  echo "export KUBECONFIG=$KUBECONFIG"
}

healthy() {
  running etcd && running kube-apiserver || return 1
  local i
  for i in $(nodes_up); do
    use_node "$i"
    running "${N_PROC}containerd" && running "${N_PROC}kubelet" || return 1
  done
  "$BIN/kubectl" get --raw /readyz >/dev/null 2>&1
}

down() {
  # Only binaries already built: taking the cluster down never builds anything.
  BIN=$CACHE/k8s-$K8S_VERSION-etcd-${ETCD_VERSION:-v3.6.16}/bin
  log "stopping the local cluster"
  # Nodes, then the control plane, each group at once: stopping a daemon may wait for it.
  local i pids=()
  for i in $(nodes_present); do (use_node "$i"; node_down) & pids+=($!); done
  wait "${pids[@]}"
  pids=()
  for name in kube-scheduler kube-controller-manager kube-apiserver; do stop "$name" & pids+=($!); done
  wait "${pids[@]}"
  stop etcd
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $DIR/" 2>/dev/null || true
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
  cgroups_down kubepods
  # The CNI library's cache of the pods' networks (loopback and each node's network).
  rm -f /var/lib/cni/results/cni-loopback-* /var/lib/cni/results/netconform-*
  # The pods' logs, which every node's kubelet writes to the same folders.
  rm -rf /var/log/pods/* /var/log/containers/*
  rm -rf "$DIR/containerd/state" "$DIR/etcd" "$DIR/kubelet" "$DIR/cni/data" "$DIR/profile" "$DIR/open-node" "$DIR/run" \
    "$DIR/nodes/count" "$DIR/tokens.csv" "$DIR"/*.kubeconfig "$DIR"/nodes/*/*.kubeconfig
  log "the local cluster is down"
}

# leftovers lists what the cluster left on the machine, by kind, and fails when
# anything is left: what `down` must remove.
leftovers() {
  local left=0
  found() {
    [ -n "$2" ] || return 0
    printf '%s:\n' "$1"; sed 's/^/  /' <<<"$2"; left=1
  }
  found processes "$(pgrep -a -f "(etcd|kube-[a-z-]+|kubelet|containerd[a-z0-9-]*|netconform) .*$DIR/" || true)"
  found mounts "$(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts)"
  found "network namespaces" "$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^(cni-|nc-host-|$SINK_NS\$|$NODE)" || true)"
  found interfaces "$(ip -o link show | awk -F': ' '{print $2}' | grep -E '^(cni0|ncn[0-9]+|nch[0-9]+|ncsink)(@|$)' || true)"
  found routes "$(ip route show | grep -E '^(10\.244\.|10\.250\.)|dev (cni0|ncn[0-9]+|nch[0-9]+|ncsink) ' || true)"
  found "routing rules" "$(ip rule show | grep -E "^$GUARD_RULE_PRIORITY:" || true)"
  found "iptables rules" "$({ iptables-save; ip6tables-save; } 2>/dev/null | grep -E 'KUBE-|NETCONFORM' || true)"
  found ipsets "$(ipset list -n 2>/dev/null | grep -E '^KUBE-' || true)"
  found cgroups "$(compgen -G "/sys/fs/cgroup/*/kubepods" || true; compgen -G "/sys/fs/cgroup/*/$NODE*" || true)"
  found "pod network state" "$(compgen -G "$DIR/cni/data/*" || true; compgen -G "$DIR/nodes/*/cni/data" || true
    compgen -G "/var/lib/cni/results/netconform-*" || true; compgen -G "/var/lib/cni/results/cni-loopback-*" || true)"
  found "pod logs" "$(compgen -G "/var/log/pods/*" || true; compgen -G "/var/log/containers/*" || true)"
  found "cluster state" "$(for f in etcd run profile open-node tokens.csv nodes/count kubelet containerd/state; do [ -e "$DIR/$f" ] && echo "$DIR/$f"; done; true)"
  [ "$left" -eq 0 ] && echo "nothing left behind"
  return "$left"
}

status() {
  local name i
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router; do
    if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
  done
  [ -f "$DIR/profile" ] && echo "profile: $(cat "$DIR/profile")"
  echo "nodes: $(nodes_up | wc -l)"
  for i in $(nodes_up); do
    use_node "$i"
    printf 'node=%s ip=%s pod-cidr=%s' "$N_NAME" "$N_IP" "$N_POD_CIDR"
    for name in containerd kubelet kube-proxy kube-router; do
      if running "${N_PROC}$name"; then printf ' %s=running' "$name"; else printf ' %s=stopped' "$name"; fi
    done
    echo
  done
  [ -f "$DIR/open-node" ] && echo "open-node=$(cat "$DIR/open-node")"
  echo "kubeconfig: $KUBECONFIG"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  load) shift; load_everywhere "${1:-}" ;;
  guard-drops) guard_drops ;;
  leftovers) leftovers ;;
  restart-apiserver) restart_apiserver ;;
  kill-enforcer) shift; kill_enforcer "${1:-}" ;;
  start-enforcer) shift; start_enforcer "${1:-}" ;;
  kill-container) shift; kill_container "${1:-}" ;;
  *) echo "usage: $0 up [enforcing|noop|partial] (NODES=n) | down | status | load IMAGE.tar | guard-drops | leftovers | restart-apiserver | kill-enforcer [NODE] | start-enforcer [NODE] | kill-container ID" >&2; exit 2 ;;
esac
