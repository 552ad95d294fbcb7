package explain

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/netpol/netpoltest"
	"github.com/netconform/netconform/internal/policykinds"
)

// shopCluster is netpoltest.Shop behind a fake client.
func shopCluster() client.Reader {
	return fake.NewClientBuilder().WithRuntimeObjects(netpoltest.Shop()...).Build()
}

// TestConnection judges connections against a fake cluster's policies.
func TestConnection(t *testing.T) {
	r := shopCluster()
	shop := v1alpha1.Source{Namespace: "shop"}
	web := v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "web"}}
	db := v1alpha1.Source{Namespace: "shop", PodLabels: map[string]string{"app": "db"}}
	tests := []struct {
		name    string // the connection as `netconform explain --from --to` gives it
		q       Query
		allowed bool
		want    []string
		wantErr string
	}{
		{name: "shop/app=web to svc/shop/db:5432", q: Query{From: web, Kind: Service, Namespace: "shop", Name: "db", Port: 5432}, allowed: true,
			want: []string{"ALLOWED", "Service shop/db port 5432/TCP sends to shop/db-0 port 5432", "allowed by shop/allow-web-to-db ingress rule 1"}},
		{name: "shop/app=web to pod/shop/db-0:5432", q: Query{From: web, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 5432}, allowed: true, want: []string{"ALLOWED"}},
		{name: "shop/app=web to ip/10.0.0.2:5432", q: Query{From: web, Kind: Address, IP: "10.0.0.2", Port: 5432}, allowed: true, want: []string{"ALLOWED", "10.0.0.2 is"}},
		{name: "shop to svc/shop/db:5432", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "db", Port: 5432}, want: []string{"DENIED", "shop/[no labels] to shop/db-0 port 5432/TCP is denied"}},
		{name: "shop/app=web to pod/shop/db-0:6379", q: Query{From: web, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 6379}, want: []string{"DENIED"}},
		{name: "shop/app=db to pod/shop/web-0:8080", q: Query{From: db, Kind: Pod, Namespace: "shop", Name: "web-0", Port: 8080}, want: []string{"DENIED", "shop/default-deny"}},
		{name: "shop/app=web to ip/192.0.2.1:443", q: Query{From: web, Kind: Address, IP: "192.0.2.1", Port: 443}, allowed: true, want: []string{"ALLOWED", "192.0.2.1 is not a pod"}},
		{name: "shop to svc/shop/nope:80", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "nope", Port: 80}, wantErr: "--to: shop/nope: service not found"},
		{name: "shop to svc/shop/db:80", q: Query{From: shop, Kind: Service, Namespace: "shop", Name: "db", Port: 80}, wantErr: "service has no such port"},
		{name: "shop to pod/shop/nope:80", q: Query{From: shop, Kind: Pod, Namespace: "shop", Name: "nope", Port: 80}, wantErr: "--to: pod shop/nope not found"},
		{name: "elsewhere to pod/shop/db-0:5432", q: Query{From: v1alpha1.Source{Namespace: "elsewhere"}, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 5432}, wantErr: "--from: namespace elsewhere does not exist"},
		{name: "shop to no kind of destination", q: Query{From: shop, Namespace: "shop", Name: "db", Port: 5432}, wantErr: `unknown kind of destination ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Protocol = corev1.ProtocolTCP
			a, err := Connection(context.Background(), r, policykinds.Fixed{}, q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := a.Lines()
			out := strings.Join(lines, "\n")
			if a.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v:\n%s", a.Allowed, tt.allowed, out)
			}
			if len(lines) < 2 {
				t.Errorf("no reasons:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestAnswerLines: the verdict, the reasons, then the caveats.
func TestAnswerLines(t *testing.T) {
	a := Answer{Allowed: true, Reasons: []string{"r1", "r2"}, Caveats: []string{"c1"}}
	want := "ALLOWED\nr1\nr2\ncaveat: c1"
	if got := strings.Join(a.Lines(), "\n"); got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := (Answer{}).Lines(); len(got) != 1 || got[0] != "DENIED" {
		t.Errorf("Lines of a denial without reasons = %q, want [DENIED]", got)
	}
}

// TestAnswerShowsTheTier: with ClusterNetworkPolicies in the cluster, the answer names
// the tier that decided each direction; what the model cannot read makes it UNDECIDED.
func TestAnswerShowsTheTier(t *testing.T) {
	db := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", Labels: map[string]string{"app": "db"}}}
	db.Status.PodIP = "10.244.0.7"
	web := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}}}
	lockdown := v1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "lockdown"}}
	lockdown.Spec.Tier, lockdown.Spec.Priority = v1beta1.AdminTier, 10
	lockdown.Spec.Subject.Namespaces = &metav1.LabelSelector{}
	lockdown.Spec.Ingress = []v1beta1.ClusterNetworkPolicyIngressRule{{Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
		From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}}
	calico := netpol.UnreadableKind{Group: "projectcalico.org", Version: "v3", Kind: "GlobalNetworkPolicy", Count: 1}
	tests := []struct {
		name       string
		unreadable []netpol.UnreadableKind
		want       []string
	}{
		{"the admin tier denies", nil, []string{"DENIED", "tier: egress from shop/web allowed by default (no tier decides), ingress to shop/db-0 denied in tier Admin by ClusterNetworkPolicy lockdown"}},
		{"a cluster-wide kind the model cannot read", []netpol.UnreadableKind{calico}, []string{"UNDECIDED", "caveat: the cluster holds 1 GlobalNetworkPolicy (projectcalico.org/v3) cluster-wide"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &netpol.Cluster{Pods: []corev1.Pod{db, web}, ClusterNetworkPolicies: []v1beta1.ClusterNetworkPolicy{lockdown}, Unreadable: tt.unreadable}
			d := c.Evaluate(netpol.Connection{From: netpol.PodPeer(&web), To: netpol.PodPeer(&db), Port: 5432})
			a := answerOf(c, []netpol.Decision{d}, nil)
			out := strings.Join(a.Lines(), "\n")
			if a.Allowed {
				t.Errorf("allowed:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// shopWithNodes is the shop with db-0 running on node-1, and a second node.
func shopWithNodes() client.Reader {
	objs := netpoltest.Shop()
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && p.Name == "db-0" {
			p.Spec.NodeName = "node-1"
		}
	}
	for _, n := range []struct{ name, ip string }{{"node-1", "192.168.0.1"}, {"node-2", "192.168.0.2"}, {"no-address", ""}} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
		if n.ip != "" {
			node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.ip}}
		}
		objs = append(objs, node)
	}
	return fake.NewClientBuilder().WithRuntimeObjects(objs...).Build()
}

// A node reaches its own pods whatever the policies say; another node is an address.
func TestConnectionFromANode(t *testing.T) {
	r := shopWithNodes()
	tests := []struct {
		node    string
		allowed bool
		want    []string
		notWant string
		wantErr string
	}{
		{node: "node-1", allowed: true, want: []string{"ALLOWED", "192.168.0.1 to shop/db-0 port 5432/TCP is allowed",
			"allowed: traffic from the pod's own node is always allowed in (NetworkPolicy does not apply to it)"}, notWant: "another node"},
		// From another node the source address is the model's assumption: it says so.
		{node: "node-2", want: []string{"DENIED", "192.168.0.2 to shop/db-0 port 5432/TCP is denied", "shop/default-deny",
			"from node node-2 to a pod on another node (shop/db-0 on node-1) the answer takes the packets to come from 192.168.0.2"}},
		{node: "nope", wantErr: "--from: node nope not found"},
		{node: "no-address", wantErr: "--from: node no-address has no InternalIP"},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			q := Query{FromNode: tt.node, Kind: Pod, Namespace: "shop", Name: "db-0", Port: 5432, Protocol: corev1.ProtocolTCP}
			a, err := Connection(context.Background(), r, policykinds.Fixed{}, q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(a.Lines(), "\n")
			if a.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v:\n%s", a.Allowed, tt.allowed, out)
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("output has %q:\n%s", tt.notWant, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
