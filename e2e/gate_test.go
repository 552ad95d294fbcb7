//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/cmd/netconform/app"
)

// gateVerdicts checks `netconform run` on a scenario's edges, as a CI pipeline runs it:
// exit 0 when every edge passed (enforcing), 1 when the no-op cluster or the open node
// let Deny edges through, and JUnit that names exactly the failing edges. It returns the
// verdicts.
func (s *scenario) gateVerdicts(name string, edges []v1alpha1.Edge) map[string]v1alpha1.Verdict {
	s.t.Helper()
	dir := s.t.TempDir()
	file, junit := filepath.Join(dir, "tests.yaml"), filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(file, testYAML(name, edges), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.tests = append(s.tests, name)
	var stdout, stderr bytes.Buffer
	code := app.Run([]string{"run", "--wait-only", "-f", file, "--junit", junit, "--timeout", "3m"}, &stdout, &stderr)
	s.t.Logf("netconform run exited %d:\n%s%s", code, stdout.String(), stderr.String())

	wantFailed := s.expectedFailures(name, edges)
	if want := map[bool]int{true: app.ExitOK, false: app.ExitFail}[len(wantFailed) == 0]; code != want {
		s.fatalf("netconform run exited %d on profile %s, want %d", code, cfg.profile, want)
	}
	if failed := junitFailures(s, junit); !slices.Equal(failed, wantFailed) {
		s.fatalf("JUnit names the failing edges %v, want %v", failed, wantFailed)
	}
	return verdictsOf(s.ctx, s, name)
}

// gateJob runs the same edges through the in-cluster Job of config/job and checks that it
// ends as the CLI did, with the same verdicts; on partial, where its probes may have run
// on other nodes than the CLI's, with the verdicts its own placement calls for.
func (s *scenario) gateJob(name string, edges []v1alpha1.Edge, want map[string]v1alpha1.Verdict) {
	s.t.Helper()
	// A Job's template cannot change: delete an earlier one, then apply everything.
	old := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "netconform-gate", Name: "netconform-gate"}}
	if err := k8s.Delete(s.ctx, old, client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
		s.fatalf("deleting the previous gate Job: %v", err)
	}
	s.waitUntil("the previous gate Job to go", func(ctx context.Context) (bool, string, error) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(old), &batchv1.Job{})
		return apierrors.IsNotFound(err), "deleting", client.IgnoreNotFound(err)
	})
	for _, o := range jobObjects(s, name, edges) {
		if err := k8s.Apply(s.ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("netconform-e2e"), client.ForceOwnership); err != nil {
			s.fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	s.tests = append(s.tests, name)
	var job batchv1.Job
	s.waitUntil("the gate Job to finish", func(ctx context.Context) (bool, string, error) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "netconform-gate", Name: "netconform-gate"}, &job); err != nil {
			return false, "", err
		}
		return job.Status.Succeeded+job.Status.Failed > 0, fmt.Sprintf("active %d", job.Status.Active), nil
	})
	if passed := len(s.expectedFailures(name, edges)) == 0; (job.Status.Succeeded > 0) != passed {
		s.fatalf("the gate Job succeeded=%d failed=%d on profile %s, want it to pass=%t", job.Status.Succeeded, job.Status.Failed, cfg.profile, passed)
	}
	got := verdictsOf(s.ctx, s, name)
	if cfg.profile == partial {
		if placed := s.expectVerdicts(name, edges); !mapsEqual(got, placed) {
			s.fatalf("the Job's verdicts %v differ from those its probes' nodes call for %v", got, placed)
		}
	} else if !mapsEqual(got, want) {
		s.fatalf("the Job's verdicts %v differ from the CLI's %v", got, want)
	}
	// The suite installs the operator: the Job must have seen it and left the runs to it.
	if log := gateJobLog(s); !strings.Contains(log, "the operator is running") {
		s.fatalf("the gate Job ran the tests itself beside the operator:\n%s", log)
	}
}

// gateJobLog is the log of the gate Job's pod.
func gateJobLog(s *scenario) string {
	var pods corev1.PodList
	if err := k8s.List(s.ctx, &pods, client.InNamespace("netconform-gate"), client.MatchingLabels{"batch.kubernetes.io/job-name": "netconform-gate"}); err != nil || len(pods.Items) == 0 {
		s.fatalf("finding the gate Job's pod: %v (%d pods)", err, len(pods.Items))
	}
	body, err := clientset.CoreV1().Pods("netconform-gate").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(s.ctx)
	if err != nil {
		s.fatalf("reading the gate Job's log: %v", err)
	}
	return string(body)
}

// expectedFailures are the edges of the completed test that must fail: on the no-op
// profile every Deny edge; on enforcing none; on partial those the open node let through.
func (s *scenario) expectedFailures(name string, edges []v1alpha1.Edge) []string {
	s.t.Helper()
	var names []string
	for edge, verdict := range s.expectVerdicts(name, edges) {
		if verdict != v1alpha1.VerdictPass {
			names = append(names, edge)
		}
	}
	slices.Sort(names)
	return names
}

// expectVerdicts are the verdicts the completed test's edges must get on this profile.
func (s *scenario) expectVerdicts(name string, edges []v1alpha1.Edge) map[string]v1alpha1.Verdict {
	s.t.Helper()
	var rt v1alpha1.ReachabilityTest
	if err := k8s.Get(s.ctx, client.ObjectKey{Name: name}, &rt); err != nil {
		s.fatalf("reading %s: %v", name, err)
	}
	ex := s.expect(phase{name: name, edges: edges}, &rt)
	if len(ex.problems) > 0 {
		s.fatalf("%s: %s", name, strings.Join(ex.problems, "; "))
	}
	return ex.wantVerdicts()
}

func junitFailures(s *scenario, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		s.fatalf("reading JUnit: %v", err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		s.fatalf("JUnit does not parse: %v\n%s", err, data)
	}
	var failed []string
	for _, suite := range doc.Suites {
		for _, c := range suite.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Name)
			}
		}
	}
	slices.Sort(failed)
	return failed
}

func verdictsOf(ctx context.Context, s *scenario, name string) map[string]v1alpha1.Verdict {
	var rt v1alpha1.ReachabilityTest
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &rt); err != nil {
		s.fatalf("reading %s: %v", name, err)
	}
	out := map[string]v1alpha1.Verdict{}
	for _, r := range rt.Status.Results {
		out[r.Edge] = r.Verdict
	}
	return out
}

func mapsEqual(a, b map[string]v1alpha1.Verdict) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testYAML(name string, edges []v1alpha1.Edge) []byte {
	rt := v1alpha1.ReachabilityTest{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ReachabilityTest"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{e2eLabel: "true"}},
		Spec:       v1alpha1.ReachabilityTestSpec{Edges: edges},
	}
	out, err := sigsyaml.Marshal(rt)
	if err != nil {
		panic(err) // a ReachabilityTest always marshals
	}
	return out
}

// jobObjects reads config/job as users apply it, with the suite's image and a ConfigMap
// holding the edges.
func jobObjects(s *scenario, name string, edges []v1alpha1.Edge) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, f := range []string{"namespace.yaml", "rbac.yaml", "job.yaml"} {
		objs = append(objs, readManifests(s, filepath.Join("..", "config", "job", f))...)
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			o.SetLabels(map[string]string{e2eLabel: "true", "pod-security.kubernetes.io/enforce": "restricted"})
		}
		if o.GetKind() == "Job" {
			setJobImage(s, o)
		}
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": "netconform-tests", "namespace": "netconform-gate"},
		"data":       map[string]any{"tests.yaml": string(testYAML(name, edges))},
	}}
	return append(objs, cm)
}

func readManifests(s *scenario, path string) []*unstructured.Unstructured {
	data, err := os.ReadFile(path)
	if err != nil {
		s.fatalf("reading %s: %v", path, err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

func setJobImage(s *scenario, job *unstructured.Unstructured) {
	containers, _, _ := unstructured.NestedSlice(job.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		c.(map[string]any)["image"] = cfg.image
	}
	if err := unstructured.SetNestedSlice(job.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		s.fatalf("setting the Job's image: %v", err)
	}
	if !strings.Contains(fmt.Sprint(containers), cfg.image) {
		s.fatalf("the Job has no container to run %s", cfg.image)
	}
}
