//go:build e2e

package e2e

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// offMachineAddress is a documentation address (TEST-NET-3): nothing may reach it, and the
// local cluster's forwarding guard must drop what a pod sends there.
const offMachineAddress = "203.0.113.1"

// spoofedSource and spoofTarget are documentation addresses (TEST-NET-3, TEST-NET-2) that
// the local cluster routes into a sink namespace that forwards nothing: a packet the
// guard let through would still not leave the machine.
const (
	spoofedSource = "203.0.113.5"
	spoofTarget   = "198.51.100.7"
)

// localNodes is what the local cluster's script says of its nodes.
type localNodes struct {
	podCIDR  map[string]netip.Prefix // node name → its pod range
	order    []string                // node names, node 1 first
	openNode string                  // the node without an enforcer, on the partial profile
}

// readLocalNodes runs `cluster.sh status`, skipping the test unless the local cluster is up.
func readLocalNodes(t *testing.T) localNodes {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), clusterScript, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kube-apiserver: running") {
		t.Skipf("TestClusterNodes checks the local cluster (make cluster-up NODES=3): %s status says: %s %v", clusterScript, out, err)
	}
	nodes := localNodes{podCIDR: map[string]netip.Prefix{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if open, ok := strings.CutPrefix(line, "open-node="); ok {
			nodes.openNode = open
			continue
		}
		if !strings.HasPrefix(line, "node=") {
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		cidr, err := netip.ParsePrefix(fields["pod-cidr"])
		if err != nil {
			t.Fatalf("%s status: node line %q has no pod-cidr: %v", clusterScript, line, err)
		}
		nodes.podCIDR[fields["node"]] = cidr
		nodes.order = append(nodes.order, fields["node"])
	}
	return nodes
}

// guardDrops reads how many packets the local cluster's forwarding guard has dropped.
func guardDrops(t *testing.T) int {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), clusterScript, "guard-drops").Output()
	if err != nil {
		t.Fatalf("%s guard-drops: %v", clusterScript, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s guard-drops printed %q, not a count: %v", clusterScript, out, err)
	}
	return n
}

// TestClusterNodes checks the local cluster itself across its nodes: every node is there
// and Ready, takes pods in its own range, serves their logs, and reaches every other
// node's pods directly
// and through Services, the cluster DNS and the off-cluster test host, never an address
// off the machine; a deny-all ingress policy is enforced exactly on the nodes the profile
// runs an enforcer on.
func TestClusterNodes(t *testing.T) {
	local := readLocalNodes(t)
	want, err := strconv.Atoi(envOr("NETCONFORM_E2E_NODES", strconv.Itoa(len(local.order))))
	if err != nil {
		t.Fatalf("NETCONFORM_E2E_NODES=%q: want a number of nodes", os.Getenv("NETCONFORM_E2E_NODES"))
	}
	ns := namespace("cluster-nodes")
	s := newScenario(t, ns)
	checkNodesReady(s, local, want)

	servers := s.deploy(ns, serverPerNode(local)...)
	for i, name := range local.order {
		pod := servers[serverName(i)]
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if pod.Spec.NodeName != name || err != nil || !local.podCIDR[name].Contains(ip) {
			s.fatalf("server %s runs on %q with address %q: want node %s and an address in its pod range %s", pod.Name, pod.Spec.NodeName, pod.Status.PodIP, name, local.podCIDR[name])
		}
	}

	// Open: every node reaches every server, the DNS and the test host, and nothing off
	// the machine; the guard counts what it dropped.
	open := map[string]bool{}
	for _, name := range local.order {
		open[name] = true
	}
	unused := unusedServiceIP(s)
	checkServiceRangeProhibited(s, local, servers, unused)
	dropsBefore := guardDrops(t)
	checkFromEveryNode(s, local, servers, "open", open, unused)
	if drops := guardDrops(t) - dropsBefore; drops < len(local.order) {
		s.fatalf("the forwarding guard dropped %d packets while %d pods dialed %s: want at least one per pod", drops, len(local.order), offMachineAddress)
	}
	checkSpoofedSourceDropped(s, local, servers)

	// Deny-all ingress: only the nodes without an enforcer let traffic into their servers.
	s.create(&networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deny-ingress"},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	})
	denied := map[string]bool{}
	for i, name := range local.order {
		open[name] = cfg.profile == noop || (cfg.profile == partial && name == local.openNode)
		denied[name] = !open[name]
		if cfg.profile == partial && i == len(local.order)-1 && name != local.openNode {
			s.fatalf("the partial profile's open node is %q: want the last node, %s", local.openNode, name)
		}
	}
	checkFromEveryNode(s, local, servers, "deny-ingress", open, unused)
	report("nodes=%d open-node=%s deny-enforced-on=%s", len(local.order), cmp.Or(local.openNode, "none"), namesWhere(local.order, denied))
}

func checkNodesReady(s *scenario, local localNodes, want int) {
	s.t.Helper()
	var nodes corev1.NodeList
	s.waitUntil(fmt.Sprintf("%d Ready, schedulable nodes", want), func(ctx context.Context) (bool, string, error) {
		if err := k8s.List(ctx, &nodes); err != nil {
			return false, "", err
		}
		var bad []string
		for _, n := range nodes.Items {
			if !nodeReady(&n) || n.Spec.Unschedulable || len(n.Spec.Taints) > 0 {
				bad = append(bad, fmt.Sprintf("%s (ready %t, unschedulable %t, taints %v)", n.Name, nodeReady(&n), n.Spec.Unschedulable, n.Spec.Taints))
			}
			if _, ok := local.podCIDR[n.Name]; !ok {
				bad = append(bad, n.Name+" is not a node the cluster script knows")
			}
		}
		return len(nodes.Items) == want && len(bad) == 0, fmt.Sprintf("%d nodes, not ready or not the script's: %v", len(nodes.Items), bad), nil
	})
	if len(local.order) != want {
		s.fatalf("the cluster script lists %d nodes (%v): want %d", len(local.order), local.order, want)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func serverName(i int) string { return fmt.Sprintf("server-%d", i+1) }

// serverPerNode is one `netconform serve` pod on each node, behind a Service of its own.
func serverPerNode(local localNodes) []workload {
	var ws []workload
	for i, name := range local.order {
		ws = append(ws, workload{
			name:   serverName(i),
			labels: labels("app", serverName(i), "role", "server"),
			ports:  []port{{name: "tcp", number: 8080}},
			edit:   func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: name} },
		})
	}
	return ws
}

// nodeCheck is one check a client makes and what it must see.
type nodeCheck struct {
	probes.Check
	want string // "connect" or "blocked"
}

// checksFrom lists what a client pod checks: every server by address and by Service
// name (connecting where the server's node is open), the cluster DNS, the off-cluster
// test host, an address off the machine and a Service address no Service owns.
func checksFrom(ns string, local localNodes, servers map[string]*corev1.Pod, open map[string]bool, unused netip.Addr) []nodeCheck {
	var cs []nodeCheck
	for i, name := range local.order {
		want := "blocked"
		if open[name] {
			want = "connect"
		}
		server := servers[serverName(i)]
		cs = append(cs,
			nodeCheck{probes.Check{Edge: "pod-" + name, Kind: probes.KindTCP, Host: server.Status.PodIP, Port: 8080, Deny: want == "blocked"}, want},
			nodeCheck{probes.Check{Edge: "service-" + name, Kind: probes.KindTCP, Host: fmt.Sprintf("%s.%s.svc.%s", server.Name, ns, cfg.clusterDomain), Port: 8080, Deny: want == "blocked"}, want})
	}
	return append(cs,
		nodeCheck{probes.Check{Edge: "dns", Kind: probes.KindDNS, Host: "kubernetes.default.svc." + cfg.clusterDomain}, "connect"},
		nodeCheck{probes.Check{Edge: "test-host", Kind: probes.KindTCP, Host: cfg.externalHost, Port: cfg.externalPort}, "connect"},
		nodeCheck{probes.Check{Edge: "off-machine", Kind: probes.KindTCP, Host: offMachineAddress, Port: 80, Deny: true}, "blocked"},
		nodeCheck{probes.Check{Edge: "unused-service-ip", Kind: probes.KindTCP, Host: unused.String(), Port: 80, Deny: true}, "blocked"})
}

// checkFromEveryNode runs a client pod on every node, each making every check, and
// polls with new clients until each sees what it must or the wait gives up: a new
// policy takes the enforcers a moment.
func checkFromEveryNode(s *scenario, local localNodes, servers map[string]*corev1.Pod, round string, open map[string]bool, unused netip.Addr) {
	s.t.Helper()
	ns := s.namespaces[0]
	checks := checksFrom(ns, local, servers, open, unused)
	for i, name := range local.order {
		attempt := 0
		s.waitUntil(fmt.Sprintf("the %s checks from a pod on %s", round, name), func(ctx context.Context) (bool, string, error) {
			attempt++
			results, err := runClient(ctx, ns, fmt.Sprintf("client-%d-%s-%d", i+1, round, attempt), name, checks)
			if err != nil {
				return false, "", err
			}
			var wrong []string
			for j, c := range checks {
				if got := nodeOutcome(results[j].Observation); got != c.want {
					wrong = append(wrong, fmt.Sprintf("%s %s:%d %s (%s), want %s", c.Edge, c.Host, c.Port, results[j].Observation, results[j].Message, c.want))
				}
			}
			return len(wrong) == 0, strings.Join(wrong, "; "), nil
		})
	}
}

func nodeOutcome(o v1alpha1.Observation) string {
	switch o {
	case v1alpha1.ObservedConnected:
		return "connect"
	case v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout, v1alpha1.ObservedUnreachable:
		return "blocked"
	}
	return string(o)
}

// runClient runs `netconform probe` in a restricted pod on a node and returns its results,
// read from the container's termination message as the manager reads them.
func runClient(ctx context.Context, ns, name, node string, checks []nodeCheck) ([]probes.Result, error) {
	plain := make([]probes.Check, len(checks))
	for i, c := range checks {
		plain[i] = c.Check
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels("app", "client")},
		Spec: corev1.PodSpec{
			NodeSelector:                  map[string]string{corev1.LabelHostname: node},
			RestartPolicy:                 corev1.RestartPolicyNever,
			SecurityContext:               probes.RestrictedPodSecurity(),
			AutomountServiceAccountToken:  ptr.To(false),
			EnableServiceLinks:            ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name:            "client",
				Image:           cfg.image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/netconform"},
				Args:            []string{"probe", "--timeout=2s", "--attempts=3", "--checks=" + probes.EncodeChecks(plain)},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: probes.RestrictedContainerSecurity(),
			}},
		},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("creating client pod %s: %w", name, err)
	}
	defer func() { _ = k8s.Delete(context.Background(), pod) }()
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if err := k8s.Get(deadline, client.ObjectKeyFromObject(pod), pod); err != nil {
			return nil, fmt.Errorf("client pod %s on %s: %w (last state: %s)", name, node, err, podState(pod))
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil {
				results, err := probes.DecodeResults(term.Message)
				if err == nil && len(results) != len(checks) {
					err = fmt.Errorf("%d results for %d checks", len(results), len(checks))
				}
				if err != nil {
					return nil, fmt.Errorf("client pod %s on %s ended (%s) without results: %w", name, node, podState(pod), err)
				}
				// The API server reads the log from the node's kubelet, at the node's address.
				logs, err := clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
				if err != nil {
					return nil, fmt.Errorf("reading the log of client pod %s on %s (kubectl logs): %w", name, node, err)
				}
				if !strings.Contains(string(logs), "checks in") {
					return nil, fmt.Errorf("the log of client pod %s on %s (kubectl logs) lacks the probe's closing line: %q", name, node, logs)
				}
				return results, nil
			}
		}
		select {
		case <-deadline.Done():
			return nil, fmt.Errorf("client pod %s on %s did not finish within a minute: %s", name, node, podState(pod))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func namesWhere(names []string, in map[string]bool) string {
	var out []string
	for _, n := range names {
		if in[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// serviceCIDR is the local cluster's Service range.
var serviceCIDR = netip.MustParsePrefix("10.96.0.0/24")

// unusedServiceIP is the highest address of the Service range that no Service owns.
func unusedServiceIP(s *scenario) netip.Addr {
	s.t.Helper()
	var services corev1.ServiceList
	if err := k8s.List(s.t.Context(), &services); err != nil {
		s.fatalf("listing Services: %v", err)
	}
	owned := map[netip.Addr]bool{}
	for _, svc := range services.Items {
		for _, ip := range svc.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				owned[a] = true
			}
		}
	}
	for a := netip.MustParseAddr("10.96.0.254"); serviceCIDR.Contains(a); a = a.Prev() {
		if !owned[a] {
			return a
		}
	}
	s.fatalf("every address of %s is a Service's", serviceCIDR)
	return netip.Addr{}
}

// nodeInterface is the host interface a node's pods' traffic arrives on: node 1's pods sit
// on the host's bridge, node i's behind the veth ncn<i>.
func nodeInterface(i int) string {
	if i == 0 {
		return "cni0"
	}
	return fmt.Sprintf("ncn%d", i+1)
}

// checkServiceRangeProhibited asks the host's routing, without sending anything, where a
// packet from each node's pod to a Service address no Service owns would go: kube-proxy
// leaves it as it is, and the host must refuse to route it rather than follow its default
// route off the machine.
func checkServiceRangeProhibited(s *scenario, local localNodes, servers map[string]*corev1.Pod, unused netip.Addr) {
	s.t.Helper()
	for i, name := range local.order {
		args := []string{"route", "get", unused.String(), "from", servers[serverName(i)].Status.PodIP, "iif", nodeInterface(i)}
		out, err := exec.CommandContext(s.t.Context(), "ip", args...).CombinedOutput()
		// A prohibit rule answers EACCES; a route would print its next hop.
		if err == nil || !strings.Contains(string(out), "Permission denied") {
			s.fatalf("ip %s (a pod on %s to an unused Service address): %s %v: want the route prohibited (Permission denied)", strings.Join(args, " "), name, out, err)
		}
	}
}

// checkSpoofedSourceDropped sends, from the network namespace of the server pods on the
// first and the last node, a UDP packet from a forged source address (as a pod with
// CAP_NET_RAW could) to a documentation address, and checks that the guard drops it. The
// host routes that address into the cluster's sink namespace, which forwards nothing, and
// the test checks that first: were the guard to fail, the packet would still stay here.
func checkSpoofedSourceDropped(s *scenario, local localNodes, servers map[string]*corev1.Pod) {
	s.t.Helper()
	ctx := s.t.Context()
	route, err := exec.CommandContext(ctx, "ip", "route", "get", spoofTarget).CombinedOutput()
	if err != nil || !strings.Contains(string(route), "dev ncsink") {
		s.fatalf("ip route get %s: %s %v: want the host to route it into the sink (dev ncsink), or the test would send it off the machine", spoofTarget, route, err)
	}
	for _, i := range []int{0, len(local.order) - 1} {
		pod := servers[serverName(i)]
		netns := podNetns(s, pod.Status.PodIP)
		run := func(args ...string) {
			s.t.Helper()
			out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + netns, "--"}, args...)...).CombinedOutput()
			if err != nil {
				s.fatalf("in the network namespace of %s: %s: %s %v", pod.Name, strings.Join(args, " "), out, err)
			}
		}
		// The forged address and a route that picks it as the source, as a raw socket would.
		run("ip", "addr", "add", spoofedSource+"/32", "dev", "eth0")
		run("ip", "route", "add", spoofTarget+"/32", "via", local.gatewayOf(i), "dev", "eth0", "src", spoofedSource)
		before := guardDrops(s.t)
		run("bash", "-c", "echo spoofed >/dev/udp/"+spoofTarget+"/9")
		s.waitUntil(fmt.Sprintf("the guard to drop the packet from %s (forged source %s on %s)", pod.Name, spoofedSource, local.order[i]), func(context.Context) (bool, string, error) {
			drops := guardDrops(s.t) - before
			return drops >= 1, fmt.Sprintf("the guard dropped %d packets since", drops), nil
		})
		run("ip", "route", "del", spoofTarget+"/32")
		run("ip", "addr", "del", spoofedSource+"/32", "dev", "eth0")
	}
}

// gatewayOf is the first address of node i's pod range, its bridge: the pods' next hop.
func (l localNodes) gatewayOf(i int) string {
	return l.podCIDR[l.order[i]].Addr().Next().String()
}

// podNetns finds the network namespace (one of containerd's cni-*) holding a pod address.
func podNetns(s *scenario, podIP string) string {
	s.t.Helper()
	out, err := exec.CommandContext(s.t.Context(), "ip", "netns", "list").Output()
	if err != nil {
		s.fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(name, "cni-") {
			continue
		}
		addrs, err := exec.CommandContext(s.t.Context(), "ip", "-n", name, "-4", "-o", "addr", "show").Output()
		if err == nil && strings.Contains(string(addrs), " "+podIP+"/") {
			return name
		}
	}
	s.fatalf("no network namespace holds the pod address %s", podIP)
	return ""
}
