package offline

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netconform/netconform/internal/manifest"
)

func read(t *testing.T, yaml string) *Manifests {
	t.Helper()
	m, err := Read([]string{manifest.Stdin}, strings.NewReader(yaml))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return m
}

const workloads = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web-sa
      containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: shop}
spec:
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    metadata: {labels: {app: migrate}}
    spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, labels: {app: debug}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled-down, namespace: shop}
spec:
  replicas: 0
  selector: {matchLabels: {app: none}}
  template:
    metadata: {labels: {app: none}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored, namespace: elsewhere}
data: {a: b}
`

// TestWorkloadsBecomeThePodsTheyWouldCreate: one running, ready pod per workload kind,
// with the template's labels, service account and named ports, in the workload's
// namespace (default when none), at an address of the offline range; none for a
// workload scaled to zero; and the namespaces they are in.
func TestWorkloadsBecomeThePodsTheyWouldCreate(t *testing.T) {
	m := read(t, workloads)
	want := map[string]string{ // pod → its app label
		"shop/deployment/web": "web", "shop/statefulset/db": "db", "kube-system/daemonset/agent": "agent",
		"shop/replicaset/rs": "rs", "shop/job/migrate": "migrate", "shop/cronjob/report": "report",
		"default/debug": "debug", "kube-system/deployment/coredns": "",
	}
	got := map[string]string{}
	for _, p := range m.Cluster.Pods {
		got[p.Namespace+"/"+p.Name] = p.Labels["app"]
		addr := netip.MustParseAddr(p.Status.PodIP)
		if !PodAddresses.Contains(addr) || p.Status.Phase != corev1.PodRunning || p.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Errorf("pod %s/%s: IP %s phase %s conditions %v: want a ready, running pod in %s", p.Namespace, p.Name, p.Status.PodIP, p.Status.Phase, p.Status.Conditions, PodAddresses)
		}
	}
	if len(got) != len(want) {
		t.Errorf("pods: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("pod %s: app label %q, want %q (pods: %v)", k, got[k], v, got)
		}
	}
	web := m.Cluster.Pods[0]
	if web.Spec.ServiceAccountName != "web-sa" || web.Spec.Containers[0].Ports[0].Name != "http" {
		t.Errorf("web: service account %q, ports %v: want the template's", web.Spec.ServiceAccountName, web.Spec.Containers[0].Ports)
	}
	for _, ns := range []string{"shop", "default", "kube-system"} {
		if !m.Cluster.HasNamespace(ns) {
			t.Errorf("namespace %s missing: its objects imply it", ns)
		}
	}
	if m.Cluster.HasNamespace("elsewhere") {
		t.Error("namespace elsewhere: only a ConfigMap is there, which bears on no verdict")
	}
}

// TestMalformedManifestsNameFileLineAndField: what the API server would refuse is an
// error at its file and line, naming the field.
func TestMalformedManifestsNameFileLineAndField(t *testing.T) {
	policy := func(spec string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n" + spec
	}
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", policy("  podSelector: {}\n  ingress:\n    - form: [{podSelector: {}}]\n"),
			[]string{`<stdin>:7: NetworkPolicy: unknown field "spec.ingress[0].form"`}},
		{"wrong type", policy("  podSelector: {}\n  ingress:\n    - ports: [{port: 80}]\n    - ports: [{port: {number: 80}}]\n"),
			[]string{"<stdin>:8: NetworkPolicy: spec.ingress[1].ports[0].port must be of type int32, not object"}},
		{"bad CIDR", policy("  podSelector: {}\n  egress:\n    - to:\n        - ipBlock: {cidr: 10.0.0.0/33}\n"),
			[]string{`<stdin>:8: NetworkPolicy p: spec.egress[0].to[0].ipBlock.cidr "10.0.0.0/33" is not a CIDR`}},
		{"except outside cidr", policy("  podSelector: {}\n  egress:\n    - to:\n        - ipBlock:\n            cidr: 10.0.0.0/16\n            except: [10.1.0.0/24]\n"),
			[]string{"<stdin>:10: NetworkPolicy p: spec.egress[0].to[0].ipBlock.except[0] 10.1.0.0/24 must lie within cidr 10.0.0.0/16"}},
		{"ipBlock with a selector", policy("  podSelector: {}\n  ingress:\n    - from:\n        - ipBlock: {cidr: 10.0.0.0/8}\n          podSelector: {}\n"),
			[]string{"<stdin>:8: NetworkPolicy p: spec.ingress[0].from[0]: ipBlock cannot be combined"}},
		{"bad selector", policy("  podSelector: {matchExpressions: [{key: app, operator: Near, values: [a]}]}\n"),
			[]string{`<stdin>:5: NetworkPolicy p: spec.podSelector: "Near" is not a valid label selector operator`}},
		{"endPort below port", policy("  podSelector: {}\n  ingress:\n    - ports:\n        - {port: 9000, endPort: 8000}\n"),
			[]string{"<stdin>:8: NetworkPolicy p: spec.ingress[0].ports[0].endPort 8000 must be from port (9000) to 65535"}},
		{"policy type", policy("  podSelector: {}\n  policyTypes: [Ingres]\n"),
			[]string{`<stdin>:6: NetworkPolicy p: spec.policyTypes[0] "Ingres": use Ingress or Egress`}},
		{"unknown field in a workload", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: x, port: 80}]\n",
			[]string{`<stdin>:7: Deployment: unknown field "spec.template.spec.containers[0].port"`}},
		{"defined twice", policy("  podSelector: {}\n") + "---\n" + policy("  podSelector: {}\n"),
			[]string{`<stdin>:9: NetworkPolicy "p" is defined twice: first at <stdin>:3; keep one`}},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"<stdin>:1: found apiVersion \"v1\" kind \"\" named \"x\": every object needs apiVersion and kind"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read([]string{manifest.Stdin}, strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
			var me *manifest.Error
			if !errors.As(err, &me) || me.Line == 0 {
				t.Errorf("error %v: want a *manifest.Error with a line", err)
			}
		})
	}
}

// TestReadWalksFoldersRecursivelyAndSkipsKustomizations: a folder's subfolders are read,
// kustomization.yaml is configuration, not a resource, and hidden folders are skipped.
func TestReadWalksFoldersRecursivelyAndSkipsKustomizations(t *testing.T) {
	dir := t.TempDir()
	np := func(name string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: shop}\nspec: {podSelector: {}}\n"
	}
	files := map[string]string{
		"top.yaml":               np("top"),
		"base/nested/deep.yml":   np("deep"),
		"base/deep.json":         `{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "json", "namespace": "shop"}, "spec": {"podSelector": {}}}`,
		"kustomization.yaml":     "resources: [top.yaml]\n",
		"base/kustomization.yml": "resources: [deep.json]\n",
		".git/config.yaml":       "not: a manifest\n",
		"base/README.md":         "# not read\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Read([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Cluster.Policies {
		names = append(names, p.Name)
	}
	if want := []string{"json", "deep", "top"}; !slices.Equal(names, want) {
		t.Errorf("policies %v, want %v (in name order, subfolders in place)", names, want)
	}
}
