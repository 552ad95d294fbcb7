package charts

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

var digest = "sha256:" + strings.Repeat("0123456789abcdef", 4)

// TestChartValues renders the chart with values set and checks what they change.
func TestChartValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		namespace string // the release's; tools when empty
		set       []string
		check     func(t *testing.T, objs map[string]object)
	}{{
		name: "a digest wins over the tag",
		set:  []string{"image.tag=v1.2.3", "image.digest=" + digest},
		check: func(t *testing.T, objs map[string]object) {
			wantEqual(t, "image", managerContainer(t, objs)["image"], "ghcr.io/netconform/netconform@"+digest)
		},
	}, {
		name: "a tag without a digest",
		set:  []string{"image.repository=registry.example/netconform", "image.tag=v1.2.3"},
		check: func(t *testing.T, objs map[string]object) {
			wantEqual(t, "image", managerContainer(t, objs)["image"], "registry.example/netconform:v1.2.3")
		},
	}, {
		name: "manager flags",
		set: []string{
			"manager.leaderElection=false", "manager.workers=8", "manager.maxConcurrentProbePods=0",
			"manager.probeSettleTime=3s", "manager.probeMaxSettleTime=20s", "manager.pprofBindAddress=127.0.0.1:6060",
			"manager.bounds.namespaces={team-a,team-b}", "manager.bounds.maxProbeMemory=64Mi",
			"manager.bounds.maxChecksPerRun=1000000", "manager.extraArgs={--zap-devel}",
		},
		check: func(t *testing.T, objs map[string]object) {
			wantEqual(t, "args", managerContainer(t, objs)["args"], []any{
				"manager", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081",
				"--workers=8", "--max-concurrent-probe-pods=0", "--probe-settle-time=3s",
				"--probe-max-settle-time=20s", "--pprof-bind-address=127.0.0.1:6060",
				"--max-probe-memory=64Mi", "--namespaces=team-a,team-b", "--max-checks-per-run=1000000", "--zap-devel",
			})
		},
	}, {
		name: "another namespace and canary namespace",
		set:  []string{"manager.canaryNamespace=canaries"},
		check: func(t *testing.T, objs map[string]object) {
			for k, o := range objs {
				if mentions(o, "netconform-system") {
					t.Errorf("%s still names netconform-system", k)
				}
			}
			probePods := objs["ValidatingAdmissionPolicy /netconform-probe-pods"]
			if !mentions(probePods, "'system:serviceaccount:tools:netconform-manager'") {
				t.Error("the probe-pod policy does not admit the manager's service account in namespace tools")
			}
			author := objs["ValidatingAdmissionPolicy /netconform-reachabilitytest-author"]
			if !mentions(author, "object.spec.canary.namespace : 'canaries'") {
				t.Error("the author policy does not take canaries as the default canary namespace")
			}
			if !slices.Contains(managerContainer(t, objs)["args"].([]any), any("--canary-namespace=canaries")) {
				t.Error("the manager is not given --canary-namespace=canaries")
			}
		},
	}, {
		name:      "monitoring objects are those of config/",
		namespace: namespace,
		set:       []string{"metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true", "grafanaDashboard.enabled=true"},
		check: func(t *testing.T, objs map[string]object) {
			rule := objs["PrometheusRule netconform-system/netconform"]
			want := objects(t, readFile(t, "../config/prometheus/prometheusrule.yaml"))[0]
			if rule == nil || !reflect.DeepEqual(rule["spec"], want["spec"]) {
				t.Error("the chart's PrometheusRule differs from config/prometheus/prometheusrule.yaml: run `make manifests`")
			}
			if objs["ServiceMonitor netconform-system/netconform-manager"] == nil {
				t.Error("no ServiceMonitor")
			}
			dash := objs["ConfigMap netconform-system/netconform-dashboard"]
			data, _ := dash["data"].(object)
			wantEqual(t, "dashboard", data["netconform-dashboard.json"],
				strings.TrimSuffix(string(readFile(t, "../config/grafana/netconform-dashboard.json")), "\n"))
		},
	}, {
		name: "OpenReports",
		set:  []string{"openReports.enabled=true"},
		check: func(t *testing.T, objs map[string]object) {
			if !slices.Contains(managerContainer(t, objs)["args"].([]any), any("--openreports")) {
				t.Error("the manager is not given --openreports")
			}
			role := yamlOf(t, objs["ClusterRole /netconform-openreports"])
			if !strings.Contains(role, "openreports.io") || !strings.Contains(role, "- clusterreports") {
				t.Errorf("the OpenReports ClusterRole grants no rights on clusterreports:\n%s", role)
			}
			binding := yamlOf(t, objs["ClusterRoleBinding /netconform-openreports"])
			if !strings.Contains(binding, "name: netconform-manager\n  namespace: tools") {
				t.Errorf("the OpenReports role is not bound to the manager:\n%s", binding)
			}
		},
	}, {
		name: "the CRD and the namespace outlive the release",
		check: func(t *testing.T, objs map[string]object) {
			for _, k := range []string{"Namespace /tools", "CustomResourceDefinition /reachabilitytests.netconform.io"} {
				if !mentions(objs[k]["metadata"], "helm.sh/resource-policy") {
					t.Errorf("%s is not kept on uninstall", k)
				}
			}
		},
	}, {
		name: "optional objects off",
		set:  []string{"namespace.create=false", "networkPolicy.enabled=false", "crds.keep=false"},
		check: func(t *testing.T, objs map[string]object) {
			for _, k := range []string{"Namespace /tools", "NetworkPolicy tools/netconform-manager"} {
				if objs[k] != nil {
					t.Errorf("%s is rendered", k)
				}
			}
			crd := yamlOf(t, objs["CustomResourceDefinition /reachabilitytests.netconform.io"])
			if strings.Contains(crd, "helm.sh/resource-policy") {
				t.Error("the CRD is kept on uninstall with crds.keep=false")
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.namespace
			if ns == "" {
				ns = "tools"
			}
			args := []string{"--namespace", ns}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			tc.check(t, byKey(t, render(t, args...)))
		})
	}
}

// TestChartRejectsBadValues: a wrong value stops the install with the value's name.
func TestChartRejectsBadValues(t *testing.T) {
	for set, want := range map[string]string{
		"image.digest=latest":              "/image/digest",
		"manager.workers=0":                "/manager/workers",
		"manager.probeSettleTime=3":        "/manager/probeSettleTime",
		"manager.maxChecksPerRun=5":        "'maxChecksPerRun' not allowed",
		"manager.bounds.maxProbeCPU=lots":  "/manager/bounds/maxProbeCPU",
		"image.pullPolicy=Sometimes":       "/image/pullPolicy",
		"metrics.serviceMonitor.enabled=1": "/metrics/serviceMonitor/enabled",
		// The admission policies are rendered with the canary namespace: a value that is
		// not a namespace name, or a flag that changes it behind their back, is refused.
		"manager.canaryNamespace=x' || true || 'y":         "/manager/canaryNamespace",
		"manager.extraArgs[0]=--canary-namespace=tenant-a": "/manager/extraArgs/0",
		"manager.extraArgs[0]=--allowed-probe-images=*":    "/manager/extraArgs/0",
	} {
		_, err := helm(t, "template", release, chartDir, "--set", set)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: got %v, want an error naming %s", set, err, want)
		}
	}
}

// TestChartLints runs helm lint --strict with the defaults and with every option on.
func TestChartLints(t *testing.T) {
	for _, set := range []string{"image.tag=v1.0.0", "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,grafanaDashboard.enabled=true,openReports.enabled=true,image.digest=" + digest} {
		if out, err := helm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--set", set); err != nil {
			t.Errorf("helm lint --strict --set %s: %v\n%s", set, err, out)
		}
	}
}

func managerContainer(t *testing.T, objs map[string]object) object {
	t.Helper()
	for k, o := range objs {
		if !strings.HasPrefix(k, "Deployment ") {
			continue
		}
		spec := o["spec"].(object)["template"].(object)["spec"].(object)
		return spec["containers"].([]any)[0].(object)
	}
	t.Fatal("no Deployment rendered")
	return nil
}

// mentions tells whether a string in the object, key or value, contains s.
func mentions(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case object:
		for k, e := range v {
			if strings.Contains(k, s) || mentions(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if mentions(e, s) {
				return true
			}
		}
	}
	return false
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func yamlOf(t *testing.T, o object) string {
	t.Helper()
	if o == nil {
		t.Fatal("object not rendered")
	}
	b, err := sigsyaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
