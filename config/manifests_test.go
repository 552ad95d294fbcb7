package config

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/internal/policykinds"
)

// TestShippedPodsAreRestricted evaluates every pod the shipped manifests run (the
// manager, the gate Job, the Bookstore sample's workloads) with the upstream Pod Security
// evaluator at the restricted level.
func TestShippedPodsAreRestricted(t *testing.T) {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	files := []string{"manager/manager.yaml", "job/job.yaml", "samples/bookstore/workloads.yaml"}
	pods := 0
	for _, file := range files {
		for _, tmpl := range podTemplates(t, file) {
			pods++
			agg := policy.AggregateCheckResults(e.EvaluatePod(restricted, &tmpl.ObjectMeta, &tmpl.Spec))
			if !agg.Allowed {
				t.Errorf("%s: a pod template violates restricted: %s: %s", file, agg.ForbiddenReason(), agg.ForbiddenDetail())
			}
		}
	}
	if pods < 9 { // manager, gate, seven Bookstore workloads
		t.Errorf("evaluated %d pod templates, want at least 9: a manifest lost its workloads", pods)
	}
}

// TestManagerRoleIsLeastPrivilege: the manager may not exec into pods, attach ephemeral
// containers, or read secrets, and may not touch every resource.
func TestManagerRoleIsLeastPrivilege(t *testing.T) {
	for _, file := range []string{"rbac/role.yaml", "job/rbac.yaml"} {
		for _, doc := range documents(t, file) {
			var role rbacv1.ClusterRole
			if err := sigsyaml.Unmarshal(doc, &role); err != nil || role.Kind != "ClusterRole" {
				continue
			}
			for _, rule := range role.Rules {
				for _, res := range rule.Resources {
					switch res {
					case "*", "secrets", "pods/exec", "pods/attach", "pods/ephemeralcontainers":
						t.Errorf("%s: %s may use %s", file, role.Name, res)
					}
				}
				for _, verb := range rule.Verbs {
					if verb == "*" {
						t.Errorf("%s: %s has a wildcard verb on %v", file, role.Name, rule.Resources)
					}
				}
			}
		}
	}
}

// TestPolicyKindRightsAreExactlyWhatDiscoveryNeeds: the manager's and the gate's roles
// may list and watch the cluster-wide policy kinds the model reads, list the CNI-specific
// kinds it counts (metadata only), create and delete the ClusterNetworkPolicies of the
// canary's admin tier, and nothing more on those groups.
func TestPolicyKindRightsAreExactlyWhatDiscoveryNeeds(t *testing.T) {
	want := map[string][]string{} // "resource.group" -> verbs
	for _, res := range policykinds.Readable {
		want[res+"."+policykinds.PolicyGroup] = []string{"list", "watch"}
	}
	want["clusternetworkpolicies."+policykinds.PolicyGroup] = []string{"create", "delete", "list", "watch"}
	for _, k := range policykinds.CNISpecific {
		want[k.Resource+"."+k.Group] = []string{"list"}
	}
	groups := map[string]bool{policykinds.PolicyGroup: true}
	for _, k := range policykinds.CNISpecific {
		groups[k.Group] = true
	}
	for _, file := range []string{"rbac/role.yaml", "job/rbac.yaml"} {
		got := map[string][]string{}
		for _, doc := range documents(t, file) {
			var role rbacv1.ClusterRole
			if err := sigsyaml.Unmarshal(doc, &role); err != nil || role.Kind != "ClusterRole" {
				continue
			}
			for _, rule := range role.Rules {
				for _, g := range rule.APIGroups {
					if !groups[g] {
						continue
					}
					if len(rule.ResourceNames) > 0 {
						t.Errorf("%s: a rule on %s names resources: %v", file, g, rule.ResourceNames)
					}
					for _, res := range rule.Resources {
						verbs := slices.Sorted(slices.Values(slices.Concat(got[res+"."+g], rule.Verbs)))
						got[res+"."+g] = slices.Compact(verbs)
					}
				}
			}
		}
		for res, verbs := range want {
			if !slices.Equal(got[res], verbs) {
				t.Errorf("%s: %s may %v, want %v", file, res, got[res], verbs)
			}
		}
		for res, verbs := range got {
			if _, ok := want[res]; !ok {
				t.Errorf("%s: %s may %v, want nothing", file, res, verbs)
			}
		}
	}
}

// TestManagerKnowsItsMemory: the manager's Go runtime collects early and keeps its heap
// under the container's limit.
func TestManagerKnowsItsMemory(t *testing.T) {
	templates := podTemplates(t, "manager/manager.yaml")
	if len(templates) != 1 || len(templates[0].Spec.Containers) != 1 {
		t.Fatalf("manager.yaml holds %d pod templates, want the manager's alone", len(templates))
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range templates[0].Spec.Containers[0].Env {
		env[e.Name] = e
	}
	if env["GOGC"].Value != "50" {
		t.Errorf("GOGC = %q, want 50", env["GOGC"].Value)
	}
	if from := env["GOMEMLIMIT"].ValueFrom; from == nil || from.ResourceFieldRef == nil || from.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT comes from %+v, want the container's limits.memory", from)
	}
}

func podTemplates(t *testing.T, file string) []corev1.PodTemplateSpec {
	var out []corev1.PodTemplateSpec
	for _, doc := range documents(t, file) {
		var meta struct{ Kind string }
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			mustUnmarshal(t, file, doc, &d)
			out = append(out, d.Spec.Template)
		case "Job":
			var j batchv1.Job
			mustUnmarshal(t, file, doc, &j)
			out = append(out, j.Spec.Template)
		}
	}
	return out
}

func documents(t *testing.T, file string) [][]byte {
	data, err := os.ReadFile(filepath.FromSlash(file))
	if err != nil {
		t.Fatal(err)
	}
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		docs = append(docs, doc)
	}
}

func mustUnmarshal(t *testing.T, file string, doc []byte, into any) {
	t.Helper()
	if err := sigsyaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestDefaultInstallsAdmissionPolicies: installing the operator installs the policies
// that keep tests and probe pods from widening anyone's rights (tested against an API
// server in config/admission).
func TestDefaultInstallsAdmissionPolicies(t *testing.T) {
	var k struct{ Resources []string }
	if err := sigsyaml.Unmarshal(documents(t, "default/kustomization.yaml")[0], &k); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(k.Resources, "../admission") {
		t.Errorf("config/default installs %v, want ../admission among them", k.Resources)
	}
	kinds := map[string]int{}
	for _, file := range []string{"admission/reachabilitytest-author.yaml", "admission/probe-pods.yaml"} {
		for _, doc := range documents(t, file) {
			var o struct {
				Kind string
				Spec struct {
					FailurePolicy     string
					ValidationActions []string
				}
			}
			if err := sigsyaml.Unmarshal(doc, &o); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			kinds[o.Kind]++
			if o.Kind == "ValidatingAdmissionPolicy" && o.Spec.FailurePolicy != "Fail" {
				t.Errorf("%s: failurePolicy %q, want Fail: a policy that cannot be evaluated must refuse", file, o.Spec.FailurePolicy)
			}
			if o.Kind == "ValidatingAdmissionPolicyBinding" && !slices.Equal(o.Spec.ValidationActions, []string{"Deny"}) {
				t.Errorf("%s: validationActions %v, want [Deny]", file, o.Spec.ValidationActions)
			}
		}
	}
	// The probe pods' policy, and one per right a test needs of its author.
	if kinds["ValidatingAdmissionPolicy"] != 6 || kinds["ValidatingAdmissionPolicyBinding"] != 6 {
		t.Errorf("config/admission holds %v, want six policies, each with its binding", kinds)
	}
}
