package netpol

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

func TestFromV1alpha2(t *testing.T) {
	in := v1alpha2.ClusterNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha2", Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "deny-db"},
		Spec: v1alpha2.ClusterNetworkPolicySpec{
			Tier: v1alpha2.AdminTier, Priority: 10,
			Subject: v1alpha2.ClusterNetworkPolicySubject{Namespaces: inNamespaces(nsY)},
			Ingress: []v1alpha2.ClusterNetworkPolicyIngressRule{{
				Name: "deny-x", Action: v1alpha2.ClusterNetworkPolicyRuleActionDeny,
				From: []v1alpha2.ClusterNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}},
				Protocols: []v1alpha2.ClusterNetworkPolicyProtocol{{TCP: &v1alpha2.ClusterNetworkPolicyProtocolTCP{
					DestinationPort: &v1alpha2.Port{Range: &v1alpha2.PortRange{Start: 80, End: 90}},
				}}},
			}},
			Egress: []v1alpha2.ClusterNetworkPolicyEgressRule{{
				Action: v1alpha2.ClusterNetworkPolicyRuleActionAccept,
				To:     []v1alpha2.ClusterNetworkPolicyEgressPeer{{Networks: []v1alpha2.CIDR{"10.0.0.0/8"}}},
			}},
		},
	}
	want := cnp("deny-db", v1beta1.AdminTier, 10, nsY, func(p *v1beta1.ClusterNetworkPolicy) {
		p.TypeMeta = in.TypeMeta
		p.Spec.Ingress = []v1beta1.ClusterNetworkPolicyIngressRule{{
			Name: "deny-x", Action: actDeny,
			From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}},
			Protocols: []v1beta1.ClusterNetworkPolicyProtocol{{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{
				DestinationPort: &v1beta1.Port{Range: &v1beta1.PortRange{Start: 80, End: 90}},
			}}},
		}}
		p.Spec.Egress = []v1beta1.ClusterNetworkPolicyEgressRule{{
			Action: actAccept, To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []v1beta1.CIDR{"10.0.0.0/8"}}},
		}}
	})
	got, caveats := FromV1alpha2(&in)
	if !reflect.DeepEqual(want, got) || len(caveats) > 0 {
		t.Errorf("caveats %v\ngot:\n%s\nwant:\n%s", caveats, asYAML(got), asYAML(want))
	}
}

func TestFromAdminNetworkPolicies(t *testing.T) {
	udp53 := []v1alpha1.AdminNetworkPolicyPort{
		{PortNumber: &v1alpha1.Port{Protocol: corev1.ProtocolUDP, Port: 53}},
		{NamedPort: ptrTo("web")},
		{PortRange: &v1alpha1.PortRange{Start: 8000, End: 9000}},
	}
	odd := []v1alpha1.AdminNetworkPolicyPort{{PortNumber: &v1alpha1.Port{Protocol: "ICMP", Port: 1}}}
	subject := v1alpha1.AdminNetworkPolicySubject{Pods: &v1alpha1.NamespacedPod{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"pod": "b"}}}}
	anp := v1alpha1.AdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
		Spec: v1alpha1.AdminNetworkPolicySpec{
			Priority: 30, Subject: subject,
			Ingress: []v1alpha1.AdminNetworkPolicyIngressRule{
				{Name: "allow-x", Action: v1alpha1.AdminNetworkPolicyRuleActionAllow, From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}}, Ports: &udp53},
				{Action: "Log", From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}}, Ports: &odd},
			},
			Egress: []v1alpha1.AdminNetworkPolicyEgressRule{
				{Action: v1alpha1.AdminNetworkPolicyRuleActionPass, To: []v1alpha1.AdminNetworkPolicyEgressPeer{{DomainNames: []v1alpha1.DomainName{"example.com"}}}},
			},
		},
	}
	banp := v1alpha1.BaselineAdminNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha1.BaselineAdminNetworkPolicySpec{
			Subject: v1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Egress: []v1alpha1.BaselineAdminNetworkPolicyEgressRule{
				{Action: v1alpha1.BaselineAdminNetworkPolicyRuleActionDeny, To: []v1alpha1.BaselineAdminNetworkPolicyEgressPeer{{Nodes: &metav1.LabelSelector{}}}},
			},
		},
	}
	ports := []v1beta1.ClusterNetworkPolicyProtocol{
		{UDP: &v1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: &v1beta1.Port{Number: 53}}},
		{DestinationNamedPort: "web"},
		{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1beta1.Port{Range: &v1beta1.PortRange{Start: 8000, End: 9000}}}},
	}
	cases := []struct {
		name    string
		convert func() (v1beta1.ClusterNetworkPolicy, []string)
		want    v1beta1.ClusterNetworkPolicySpec
		caveats []string
	}{{
		name:    "AdminNetworkPolicy: Allow becomes Accept, ports become protocols, what cannot convert is named",
		convert: func() (v1beta1.ClusterNetworkPolicy, []string) { return FromAdminNetworkPolicy(&anp) },
		want: v1beta1.ClusterNetworkPolicySpec{
			Tier: v1beta1.AdminTier, Priority: 30,
			Subject: v1beta1.ClusterNetworkPolicySubject{Pods: &v1beta1.NamespacedPod{PodSelector: subject.Pods.PodSelector}},
			Ingress: []v1beta1.ClusterNetworkPolicyIngressRule{
				{Name: "allow-x", Action: actAccept, From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}}, Protocols: ports},
				{Action: "Log", From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}}, Protocols: []v1beta1.ClusterNetworkPolicyProtocol{{}}},
			},
			Egress: []v1beta1.ClusterNetworkPolicyEgressRule{
				{Action: actPass, To: []v1beta1.ClusterNetworkPolicyEgressPeer{{DomainNames: []v1beta1.DomainName{"example.com"}}}},
			},
		},
		caveats: []string{
			`AdminNetworkPolicy legacy ingress rule 1 has action "Log", which the model does not know`,
			`AdminNetworkPolicy legacy ingress rule 1 has protocol "ICMP", which the model does not know`,
		},
	}, {
		name:    "BaselineAdminNetworkPolicy: tier Baseline, priority 0",
		convert: func() (v1beta1.ClusterNetworkPolicy, []string) { return FromBaselineAdminNetworkPolicy(&banp) },
		want: v1beta1.ClusterNetworkPolicySpec{
			Tier:    v1beta1.BaselineTier,
			Subject: v1beta1.ClusterNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Egress: []v1beta1.ClusterNetworkPolicyEgressRule{
				{Action: actDeny, To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Nodes: &metav1.LabelSelector{}}}},
			},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, caveats := tc.convert()
			if !reflect.DeepEqual(tc.want, got.Spec) {
				t.Errorf("got:\n%s\nwant:\n%s", asYAML(got.Spec), asYAML(tc.want))
			}
			if !reflect.DeepEqual(tc.caveats, caveats) {
				t.Errorf("caveats %q, want %q", caveats, tc.caveats)
			}
		})
	}
}

// TestConvertedPolicyIsExplainedByItsKind: an AdminNetworkPolicy is evaluated in the
// Admin tier and named as what the cluster holds; its unconvertible rule leaves the
// connections it may match undecided.
func TestConvertedPolicyIsExplainedByItsKind(t *testing.T) {
	anp := v1alpha1.AdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{Kind: "AdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
		Spec: v1alpha1.AdminNetworkPolicySpec{
			Priority: 30, Subject: v1alpha1.AdminNetworkPolicySubject{Namespaces: inNamespaces(nsY)},
			Ingress: []v1alpha1.AdminNetworkPolicyIngressRule{
				{Name: "deny-x", Action: v1alpha1.AdminNetworkPolicyRuleActionDeny, From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}},
					Ports: &[]v1alpha1.AdminNetworkPolicyPort{{PortNumber: &v1alpha1.Port{Protocol: corev1.ProtocolTCP, Port: 80}}}},
				{Action: v1alpha1.AdminNetworkPolicyRuleActionDeny, From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: inNamespaces(nsX)}},
					Ports: &[]v1alpha1.AdminNetworkPolicyPort{{PortNumber: &v1alpha1.Port{Protocol: "ICMP", Port: 1}}}},
			},
		},
	}
	converted, _ := FromAdminNetworkPolicy(&anp)
	c := world()
	c.ClusterNetworkPolicies = []v1beta1.ClusterNetworkPolicy{converted}
	d := c.Evaluate(Connection{From: c.peer(t, "x/a"), To: c.peer(t, "y/b"), Port: 80, Protocol: tcp})
	if d.Allowed || d.Undecided || !strings.Contains(strings.Join(d.Reasons, "\n"), `AdminNetworkPolicy legacy (tier Admin, priority 30) ingress rule 1 "deny-x"`) {
		t.Errorf("port 80: allowed %v undecided %v\n%s", d.Allowed, d.Undecided, strings.Join(d.Reasons, "\n"))
	}
	d = c.Evaluate(Connection{From: c.peer(t, "x/a"), To: c.peer(t, "y/b"), Port: 81, Protocol: tcp})
	if !d.Undecided || !strings.Contains(strings.Join(d.Caveats, "\n"), "AdminNetworkPolicy legacy (tier Admin, priority 30) ingress rule 2") {
		t.Errorf("port 81: undecided %v\n%s", d.Undecided, strings.Join(d.Caveats, "\n"))
	}
}

func ptrTo[T any](v T) *T { return &v }

func asYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(out)
}
