package config

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestOpenReportsRightsComeOnlyWithTheComponent: the manager's own role has no right on
// openreports.io (--openreports is off by default, and config/default leaves the
// component out); the component's role has exactly what the reports need, bound to the
// manager's service account, and its patch turns the flag on.
func TestOpenReportsRightsComeOnlyWithTheComponent(t *testing.T) {
	for _, file := range []string{"rbac/role.yaml", "job/rbac.yaml"} {
		for _, doc := range documents(t, file) {
			var role rbacv1.ClusterRole
			if err := sigsyaml.Unmarshal(doc, &role); err != nil {
				t.Fatal(err)
			}
			for _, rule := range role.Rules {
				if slices.Contains(rule.APIGroups, "openreports.io") {
					t.Errorf("%s: %s has a rule on openreports.io: %+v; it belongs in config/openreports", file, role.Name, rule)
				}
			}
		}
	}
	for _, doc := range documents(t, "default/kustomization.yaml") {
		if strings.Contains(string(doc), "openreports") {
			t.Errorf("config/default includes the OpenReports component: it must stay off by default")
		}
	}

	var role rbacv1.ClusterRole
	mustUnmarshal(t, "openreports/role.yaml", documents(t, "openreports/role.yaml")[0], &role)
	want := []rbacv1.PolicyRule{{APIGroups: []string{"openreports.io"}, Resources: []string{"clusterreports"}, Verbs: []string{"get", "create", "update"}}}
	if !slices.EqualFunc(role.Rules, want, func(a, b rbacv1.PolicyRule) bool {
		return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) && slices.Equal(a.Verbs, b.Verbs) && len(a.ResourceNames) == 0
	}) {
		t.Errorf("config/openreports grants %+v, want %+v", role.Rules, want)
	}
	var binding rbacv1.ClusterRoleBinding
	mustUnmarshal(t, "openreports/role_binding.yaml", documents(t, "openreports/role_binding.yaml")[0], &binding)
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != "netconform-manager" || binding.Subjects[0].Namespace != "netconform-system" {
		t.Errorf("config/openreports binds %+v to %+v, want %s to the manager's service account", binding.RoleRef, binding.Subjects, role.Name)
	}
	kustomization := string(documents(t, "openreports/kustomization.yaml")[0])
	for _, want := range []string{"kind: Component", "value: --openreports", "name: netconform-manager"} {
		if !strings.Contains(kustomization, want) {
			t.Errorf("config/openreports/kustomization.yaml lacks %q", want)
		}
	}
}
