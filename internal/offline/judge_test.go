package offline

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// shop: web may reach db on 5432 (both ends allow it); db is isolated for ingress.
const shop = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  ports: [{name: pg, port: 5432, targetPort: pg}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 5432}]
`

func edge(expect v1alpha1.Expectation, from map[string]string, to v1alpha1.Destination) v1alpha1.Edge {
	return v1alpha1.Edge{Name: "e", Expect: expect, From: v1alpha1.Source{Namespace: "shop", PodLabels: from}, To: to}
}

var (
	web     = map[string]string{"app": "web"}
	toDB    = v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: "shop", Name: "db", Port: intstr.FromInt32(5432)}}
	toDBPod = v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "db"}, Port: intstr.FromString("pg")}}
)

// TestRunPredictsEachEdge: the verdict of every edge from the manifests alone, and the
// reason of every edge they cannot decide.
func TestRunPredictsEachEdge(t *testing.T) {
	cases := []struct {
		name  string
		extra string // more manifests
		edge  v1alpha1.Edge
		want  v1alpha1.Verdict
		// says must be in the message or the explanation.
		says string
	}{
		{"allowed as expected", "", edge(v1alpha1.ExpectAllow, web, toDB), v1alpha1.VerdictPass, "allowed by shop/db-from-web ingress rule 1"},
		{"denied as expected", "", edge(v1alpha1.ExpectDeny, nil, toDBPod), v1alpha1.VerdictPass, "shop/db-from-web"},
		{"an Allow edge the policies deny", "", edge(v1alpha1.ExpectAllow, nil, toDB), v1alpha1.VerdictFail, "shop/db-from-web"},
		{"a Deny edge the policies allow", "", edge(v1alpha1.ExpectDeny, web, toDBPod), v1alpha1.VerdictFail, "db-from-web ingress rule 1"},
		{"a source needs no pod", "", edge(v1alpha1.ExpectAllow, map[string]string{"app": "web", "extra": "x"}, toDB), v1alpha1.VerdictPass, ""},
		{"no pod matches the destination", "", edge(v1alpha1.ExpectDeny, web,
			v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: map[string]string{"app": "cache"}, Port: intstr.FromInt32(6379)}}),
			v1alpha1.VerdictInconclusive, "no ready pod in namespace shop matches app=cache"},
		{"no such Service", "", edge(v1alpha1.ExpectDeny, web,
			v1alpha1.Destination{Service: &v1alpha1.ServiceDestination{Namespace: "shop", Name: "cache", Port: intstr.FromInt32(6379)}}),
			v1alpha1.VerdictInconclusive, "cache"},
		{"the source's namespace is nowhere", "", v1alpha1.Edge{Name: "e", Expect: v1alpha1.ExpectDeny, From: v1alpha1.Source{Namespace: "ghost"}, To: toDB},
			v1alpha1.VerdictInconclusive, "namespace ghost is in none of the manifests"},
		{"a policy kind the model cannot read, in the destination's namespace", calicoPolicy("shop"), edge(v1alpha1.ExpectAllow, web, toDB),
			v1alpha1.VerdictInconclusive, "1 NetworkPolicy (crd.projectcalico.org/v1) in shop, a policy kind the model cannot read"},
		{"a policy kind the model cannot read, elsewhere", calicoPolicy("other"), edge(v1alpha1.ExpectAllow, web, toDB), v1alpha1.VerdictPass, ""},
		{"a cluster-wide kind the model cannot read", ciliumClusterwide, edge(v1alpha1.ExpectAllow, web, toDB),
			v1alpha1.VerdictInconclusive, "CiliumClusterwideNetworkPolicy"},
		{"a ClusterNetworkPolicy version the model does not know", unknownCNPVersion, edge(v1alpha1.ExpectAllow, web, toDB),
			v1alpha1.VerdictInconclusive, "ClusterNetworkPolicy (policy.networking.k8s.io/v9) cluster-wide"},
		{"an ipBlock that decides by the source's address", ipBlockIngress("10.0.0.0/8"), edge(v1alpha1.ExpectDeny, nil, toDBPod),
			v1alpha1.VerdictInconclusive, "addresses pods get"},
		{"an ipBlock beside a rule that allows anyway", ipBlockIngress("10.0.0.0/8"), edge(v1alpha1.ExpectAllow, web, toDBPod), v1alpha1.VerdictPass, ""},
		{"a host that is a name", "", edge(v1alpha1.ExpectDeny, web, v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "example.com", Port: 443}}),
			v1alpha1.VerdictInconclusive, "host example.com is a name"},
		{"a host address an egress ipBlock excludes", webEgressTo("0.0.0.0/0", "192.0.2.0/24"),
			edge(v1alpha1.ExpectDeny, web, v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "192.0.2.10", Port: 443}}), v1alpha1.VerdictPass, ""},
		{"a host address an egress ipBlock admits", webEgressTo("0.0.0.0/0", "192.0.2.0/24"),
			edge(v1alpha1.ExpectAllow, web, v1alpha1.Destination{Host: &v1alpha1.HostDestination{Host: "198.51.100.7", Port: 443}}), v1alpha1.VerdictPass, ""},
		{"an Admin tier Deny over the allowing NetworkPolicy", adminDeny, edge(v1alpha1.ExpectAllow, web, toDB),
			v1alpha1.VerdictFail, `decided in tier Admin: ClusterNetworkPolicy no-web-to-db (tier Admin, priority 10) ingress rule 1 "deny-web"`},
		{"an AdminNetworkPolicy, converted", adminNetworkPolicy, edge(v1alpha1.ExpectDeny, web, toDB), v1alpha1.VerdictPass, "decided in tier Admin: AdminNetworkPolicy legacy-no-web-to-db"},
		{"a Baseline Deny where no NetworkPolicy isolates", baselineDeny, edge(v1alpha1.ExpectDeny, nil,
			v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: "shop", PodLabels: web, Port: intstr.FromString("http")}}),
			v1alpha1.VerdictPass, "baseline-deny"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := read(t, shop+tc.extra)
			test := v1alpha1.ReachabilityTest{Spec: v1alpha1.ReachabilityTestSpec{Edges: []v1alpha1.Edge{tc.edge}}}
			test.Name = "t"
			got := Run(m, []v1alpha1.ReachabilityTest{test})[0]
			r := got.Status.Results[0]
			if r.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (message %q, explanation %q)", r.Verdict, tc.want, r.Message, r.Explanation)
			}
			if text := r.Message + " " + r.Explanation; !strings.Contains(text, tc.says) {
				t.Errorf("message %q, explanation %q: want %q", r.Message, r.Explanation, tc.says)
			}
			if r.Verdict == v1alpha1.VerdictFail && (r.Diagnosis != v1alpha1.DiagnosisPolicyMismatch || r.Predicted == "" || r.Explanation == "") {
				t.Errorf("a failure: diagnosis %q, predicted %q, explanation %q: want PolicyMismatch with the policies' verdict and why", r.Diagnosis, r.Predicted, r.Explanation)
			}
			passed := got.Status.Conditions[1]
			if (passed.Status == "True") != (tc.want == v1alpha1.VerdictPass) {
				t.Errorf("Passed condition %s for a %s edge", passed.Status, tc.want)
			}
		})
	}
}

func calicoPolicy(ns string) string {
	return "\n---\napiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: c, namespace: " + ns + "}\nspec: {selector: all()}\n"
}

const ciliumClusterwide = "\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec: {endpointSelector: {}}\n"

const unknownCNPVersion = "\n---\napiVersion: policy.networking.k8s.io/v9\nkind: ClusterNetworkPolicy\nmetadata: {name: c}\nspec: {}\n"

// ipBlockIngress adds an ingress rule to db that admits a CIDR.
func ipBlockIngress(cidr string) string {
	return `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-block, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{ipBlock: {cidr: "` + cidr + `"}}]
`
}

// webEgressTo isolates web's egress to a CIDR with one exception.
func webEgressTo(cidr, except string) string {
	return `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: "` + cidr + `", except: ["` + except + `"]}}]
`
}

// The admin tier, from the ClusterNetworkPolicy semantics of sigs.k8s.io/network-policy-api.
const (
	adminDeny = `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: no-web-to-db}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
    - name: deny-web
      action: Deny
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
`
	adminNetworkPolicy = `
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: legacy-no-web-to-db}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
    - name: deny-web
      action: Deny
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]
`
	baselineDeny = `
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: baseline-deny}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {matchLabels: {team: shop}}}
  ingress:
    - name: deny-all
      action: Deny
      from: [{namespaces: {}}]
`
)
