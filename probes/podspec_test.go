package probes

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	testUID      = types.UID("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
	runID        = "20260101t120000z"
	managerImage = "ghcr.io/netconform/netconform:v0.1.0"
)

func fixtureTest(probePod *v1alpha1.ProbePodSpec) *v1alpha1.ReachabilityTest {
	return &v1alpha1.ReachabilityTest{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-segmentation", UID: testUID},
		Spec: v1alpha1.ReachabilityTestSpec{
			ProbeTimeoutSeconds: 2,
			Attempts:            3,
			ProbePod:            probePod,
		},
	}
}

func fixturePlan(id Identity) PodPlan {
	return PodPlan{
		Identity: id,
		Index:    1,
		Checks: []Check{
			{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 8080},
			{Edge: "fe-db", Kind: KindTCP, Host: "10.0.0.10", Port: 5432, Deny: true},
			{Edge: "fe-ntp", Kind: KindUDP, Host: "192.0.2.1", Port: 123, Deny: true},
			{Edge: "fe-dns", Kind: KindDNS, Host: "kubernetes.default.svc.cluster.local"},
		},
	}
}

// probePodCases are pods the planner can produce, for the tests that every one of them
// must satisfy.
func probePodCases() []struct {
	name     string
	probePod *v1alpha1.ProbePodSpec
	identity Identity
} {
	return []struct {
		name     string
		probePod *v1alpha1.ProbePodSpec
		identity Identity
	}{
		{name: "defaults", identity: frontendID},
		{name: "empty override", probePod: &v1alpha1.ProbePodSpec{}, identity: frontendID},
		{name: "unlabelled source", identity: Identity{Namespace: "shop"}},
		{name: "service account", identity: Identity{Namespace: "shop", ServiceAccount: "frontend", Labels: frontendID.Labels}},
		{name: "image override", probePod: &v1alpha1.ProbePodSpec{Image: "registry.corp.example/netconform@sha256:0123456789abcdef"}, identity: frontendID},
		{name: "resources override", probePod: &v1alpha1.ProbePodSpec{Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		}}, identity: frontendID},
		{name: "scheduling override", probePod: &v1alpha1.ProbePodSpec{
			NodeSelector:      map[string]string{"kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "eu-west-1a"},
			Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "probes", Effect: corev1.TaintEffectNoSchedule}},
			PriorityClassName: "system-cluster-critical",
		}, identity: frontendID},
		{name: "everything overridden", probePod: &v1alpha1.ProbePodSpec{
			Image:             "registry.corp.example/netconform:dev",
			NodeSelector:      map[string]string{"kubernetes.io/os": "linux"},
			Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Resources:         &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
			PriorityClassName: "high",
		}, identity: Identity{Namespace: "payments", ServiceAccount: "api", Labels: map[string]string{"app.kubernetes.io/name": "api"}}},
	}
}

func TestProbePod(t *testing.T) {
	for _, tt := range probePodCases() {
		t.Run(tt.name, func(t *testing.T) {
			test := fixtureTest(tt.probePod)
			p := fixturePlan(tt.identity)
			pod := ProbePod(test, runID, p, PodSettings{Image: managerImage})
			override := tt.probePod
			if override == nil {
				override = &v1alpha1.ProbePodSpec{}
			}

			if !reflect.DeepEqual(ProbePod(test, runID, p, PodSettings{Image: managerImage}), pod) {
				t.Error("the same inputs rendered different pods")
			}
			if pod.Name != PodName(test.Name, runID, p) {
				t.Errorf("name %q, want PodName's %q", pod.Name, PodName(test.Name, runID, p))
			}
			if pod.Namespace != tt.identity.Namespace {
				t.Errorf("namespace %q, want the source's %q", pod.Namespace, tt.identity.Namespace)
			}

			// Labels: the source's, so policies select the probe, plus ours under netconform.io/.
			for k, v := range tt.identity.Labels {
				if pod.Labels[k] != v {
					t.Errorf("label %s=%q, want the source's %q", k, pod.Labels[k], v)
				}
			}
			for k, v := range pod.Labels {
				if _, ok := tt.identity.Labels[k]; !ok && !strings.HasPrefix(k, "netconform.io/") {
					t.Errorf("label %s=%s is neither the source's nor under netconform.io/", k, v)
				}
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					t.Errorf("label key %q: %v", k, errs)
				}
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("label %s value %q: %v", k, v, errs)
				}
			}
			if pod.Labels[TestLabel(testUID)] != runID || pod.Labels[LabelRun] != runID {
				t.Errorf("labels %v lack %s=%s or %s=%s", pod.Labels, TestLabel(testUID), runID, LabelRun, runID)
			}
			if members, err := MembersOf(pod); err != nil || !reflect.DeepEqual(members, []Member{{Test: test.Name, UID: testUID, Run: runID}}) {
				t.Errorf("members %+v (%v), want the one run", members, err)
			}
			for k := range pod.Annotations {
				if !strings.HasPrefix(k, "netconform.io/") {
					t.Errorf("annotation %s is not under netconform.io/", k)
				}
			}
			if tt.identity.Labels != nil {
				if _, ok := tt.identity.Labels[LabelRun]; ok {
					t.Error("ProbePod wrote its labels into the plan's identity")
				}
			}

			wantOwner := metav1.OwnerReference{
				APIVersion: "netconform.io/v1alpha1", Kind: "ReachabilityTest", Name: test.Name, UID: testUID,
				BlockOwnerDeletion: ptr.To(true),
			}
			if len(pod.OwnerReferences) != 1 || !reflect.DeepEqual(pod.OwnerReferences[0], wantOwner) {
				t.Errorf("ownerReferences %+v, want only %+v", pod.OwnerReferences, wantOwner)
			}

			checks, err := ChecksOf(pod)
			if err != nil {
				t.Fatalf("ChecksOf: %v", err)
			}
			if !reflect.DeepEqual(checks, p.Checks) {
				t.Errorf("ChecksOf\n got %+v\nwant %+v", checks, p.Checks)
			}

			spec := pod.Spec
			if !slices.Contains(spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: ReadinessGate}) {
				t.Errorf("readiness gates %v lack %s: a Service selecting the source would route to the probe", spec.ReadinessGates, ReadinessGate)
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Error("the service account token is mounted")
			}
			if spec.ServiceAccountName != tt.identity.ServiceAccount {
				t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, tt.identity.ServiceAccount)
			}
			if d := spec.ActiveDeadlineSeconds; d == nil || *d <= 0 || *d > 3600 {
				t.Errorf("activeDeadlineSeconds %v, want a bound of at most an hour", d)
			}
			if spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %s, want Never: a probe runs once", spec.RestartPolicy)
			}
			if spec.HostNetwork || spec.HostPID || spec.HostIPC || len(spec.Volumes) > 0 || len(spec.EphemeralContainers) > 0 || len(spec.InitContainers) > 0 {
				t.Error("the pod uses host namespaces, volumes or extra containers")
			}
			if len(spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(spec.Containers))
			}
			c := spec.Containers[0]
			wantImage := managerImage
			if override.Image != "" {
				wantImage = override.Image
			}
			if c.Image != wantImage {
				t.Errorf("image %q, want %q", c.Image, wantImage)
			}
			if !reflect.DeepEqual(spec.NodeSelector, override.NodeSelector) || !reflect.DeepEqual(spec.Tolerations, override.Tolerations) || spec.PriorityClassName != override.PriorityClassName {
				t.Errorf("scheduling %v %v %q, want the override's %v %v %q", spec.NodeSelector, spec.Tolerations, spec.PriorityClassName, override.NodeSelector, override.Tolerations, override.PriorityClassName)
			}
			if override.Resources != nil {
				if !reflect.DeepEqual(c.Resources, *override.Resources) {
					t.Errorf("resources %+v, want the override's %+v", c.Resources, *override.Resources)
				}
			} else if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("default resources %+v are not bounded", c.Resources)
			}
			if c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
				t.Errorf("terminationMessagePolicy %s: the results must come from the file only", c.TerminationMessagePolicy)
			}
			if want := []string{"--timeout=2s", "--attempts=3"}; !reflect.DeepEqual(c.Args[:2], want) {
				t.Errorf("args %q, want them to start with %q", c.Args[:2], want)
			}
		})
	}
}

func TestChecksOfErrors(t *testing.T) {
	pod := ProbePod(fixtureTest(nil), runID, fixturePlan(frontendID), PodSettings{Image: managerImage})
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"no checks argument", func(p *corev1.Pod) { p.Spec.Containers[0].Args = p.Spec.Containers[0].Args[:2] }, "carries no --checks= argument"},
		{"another container", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "sidecar" }, "carries no --checks= argument"},
		{"corrupt checks", func(p *corev1.Pod) { p.Spec.Containers[0].Args[2] = ChecksFlag + "[{" }, "decoding checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod.DeepCopy()
			tt.mutate(p)
			if _, err := ChecksOf(p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ChecksOf error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPodName(t *testing.T) {
	long := strings.Repeat("a", 253)
	dotted := strings.Repeat("abcdefgh.", 28)[:252] + "z" // 253 characters, dots all along
	tests := []struct {
		name, testName string
	}{
		{"short", "shop"},
		{"63 characters", strings.Repeat("b", 63)},
		{"253 characters", long},
		{"253 characters with dots", dotted},
		{"cut at a dash", strings.Repeat("c", 39) + "-" + strings.Repeat("d", 50)},
		{"cut at a dot", strings.Repeat("e", 39) + "." + strings.Repeat("f", 50)},
		{"cut after dashes", strings.Repeat("g", 37) + "---" + strings.Repeat("h", 50)},
	}
	p := fixturePlan(frontendID)
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := PodName(tt.testName, runID, p)
			if len(name) > 63 {
				t.Errorf("%q is %d characters, more than 63", name, len(name))
			}
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				t.Errorf("%q is not a valid pod name: %v", name, errs)
			}
			if PodName(tt.testName, runID, p) != name {
				t.Error("PodName is not deterministic")
			}
			if other, ok := seen[name]; ok {
				t.Errorf("tests %q and %q share the pod name %q", other, tt.testName, name)
			}
			seen[name] = tt.testName
		})
	}

	t.Run("every input changes the name", func(t *testing.T) {
		base := PodName(long, runID, p)
		other := func(f func(*string, *string, *PodPlan)) string {
			testName, run, plan := long, runID, p
			plan.Identity.Labels = map[string]string{"app": "frontend", "tier": "web"}
			f(&testName, &run, &plan)
			return PodName(testName, run, plan)
		}
		variants := map[string]string{
			"test name past the kept prefix": other(func(n, _ *string, _ *PodPlan) { *n = long[:252] + "b" }),
			"run":                            other(func(_, r *string, _ *PodPlan) { *r = "20260101t120500z" }),
			"index":                          other(func(_, _ *string, pp *PodPlan) { pp.Index = 2 }),
			"label":                          other(func(_, _ *string, pp *PodPlan) { pp.Identity.Labels["tier"] = "api" }),
			"service account":                other(func(_, _ *string, pp *PodPlan) { pp.Identity.ServiceAccount = "robot" }),
			"namespace":                      other(func(_, _ *string, pp *PodPlan) { pp.Identity.Namespace = "shop2" }),
		}
		for what, name := range variants {
			if name == base {
				t.Errorf("changing the %s kept the pod name %q", what, name)
			}
		}
		if again := other(func(_, _ *string, pp *PodPlan) { pp.Checks = nil }); again != base {
			t.Errorf("the checks changed the pod name: a restarted manager would not find its pods")
		}
	})
}

func TestActiveDeadline(t *testing.T) {
	tests := []struct {
		timeout, attempts int32
		want              int64
	}{
		{0, 0, 38}, // unset: one attempt of 1s, after the 4s longest settle time
		{1, 1, 38},
		{2, 3, 52},
		{60, 10, 1254}, // the API's largest values
	}
	for _, tt := range tests {
		spec := v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: tt.timeout, Attempts: tt.attempts}
		got := deadlineSeconds(spec, PodSettings{Settle: time.Second, MaxSettle: 4 * time.Second})
		if got != tt.want {
			t.Errorf("deadline for timeout %ds × %d attempts = %ds, want %ds", tt.timeout, tt.attempts, got, tt.want)
		}
		// Every attempt may spend a timeout on the look-up and one on the connection.
		if need := int64(2 * max(tt.timeout, 1) * max(tt.attempts, 1)); got < need+20 {
			t.Errorf("deadline %ds leaves less than 20s beyond the %ds the attempts may take", got, need)
		}
	}
}

func TestProbeArgs(t *testing.T) {
	checks := fixturePlan(frontendID).Checks
	tests := []struct {
		spec v1alpha1.ReachabilityTestSpec
		want []string
	}{
		{v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: 2, Attempts: 3}, []string{"--timeout=2s", "--attempts=3", "--settle=1s", "--max-settle=4s"}},
		{v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: 60, Attempts: 10}, []string{"--timeout=1m0s", "--attempts=10", "--settle=1s", "--max-settle=4s"}},
		{v1alpha1.ReachabilityTestSpec{}, []string{"--timeout=1s", "--attempts=1", "--settle=1s", "--max-settle=4s"}},
	}
	for _, tt := range tests {
		args := ProbeArgs(tt.spec, PodSettings{Settle: time.Second, MaxSettle: 4 * time.Second}, checks)
		if len(args) != 5 || !reflect.DeepEqual(args[:4], tt.want) || args[4] != ChecksFlag+EncodeChecks(checks) {
			t.Errorf("ProbeArgs(%+v) = %q, want %q followed by the checks", tt.spec, args, tt.want)
		}
	}
}

func TestProbePodGolden(t *testing.T) {
	pod := ProbePod(fixtureTest(nil), runID, fixturePlan(frontendID), PodSettings{Image: managerImage})
	got, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "probe-pod.golden.yaml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./probes -run TestProbePodGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the probe pod differs from %s (if the change is intended, rerun with -update):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines that differ between two renderings, position by position.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  golden: %s\n  got:    %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

var restricted = psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}

func restrictedEvaluator(t *testing.T) policy.Evaluator {
	t.Helper()
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestProbePodPassesRestricted evaluates every pod the planner can produce against the
// restricted Pod Security Standard, as the admission plugin would.
func TestProbePodPassesRestricted(t *testing.T) {
	e := restrictedEvaluator(t)
	for _, tt := range probePodCases() {
		t.Run(tt.name, func(t *testing.T) {
			pod := ProbePod(fixtureTest(tt.probePod), runID, fixturePlan(tt.identity), PodSettings{Image: managerImage})
			agg := policy.AggregateCheckResults(e.EvaluatePod(restricted, &pod.ObjectMeta, &pod.Spec))
			if !agg.Allowed {
				t.Errorf("restricted forbids the probe pod: %s", agg.ForbiddenDetail())
			}
		})
	}
}

// The controls show that the evaluation above can fail: each weakens one setting the
// restricted level requires.
func TestRestrictedNegativeControls(t *testing.T) {
	e := restrictedEvaluator(t)
	pod := ProbePod(fixtureTest(nil), runID, fixturePlan(frontendID), PodSettings{Image: managerImage})
	tests := []struct {
		name   string
		mutate func(*corev1.PodSpec)
		reason string
	}{
		{"no seccompProfile", func(s *corev1.PodSpec) { s.SecurityContext.SeccompProfile = nil }, "seccompProfile"},
		{"unconfined seccomp", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, "seccompProfile"},
		{"privilege escalation allowed", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, "allowPrivilegeEscalation"},
		{"capabilities kept", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities = nil }, "unrestricted capabilities"},
		{"NET_RAW added", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
		}, "capabilities"},
		{"may run as root", func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = nil
			s.Containers[0].SecurityContext.RunAsNonRoot = nil
		}, "runAsNonRoot"},
		{"runs as UID 0", func(s *corev1.PodSpec) { s.SecurityContext.RunAsUser = ptr.To[int64](0) }, "runAsUser"},
		{"host network", func(s *corev1.PodSpec) { s.HostNetwork = true }, "host namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod.DeepCopy()
			tt.mutate(&p.Spec)
			agg := policy.AggregateCheckResults(e.EvaluatePod(restricted, &p.ObjectMeta, &p.Spec))
			if agg.Allowed {
				t.Fatal("restricted allows the weakened pod: the evaluation proves nothing")
			}
			if !strings.Contains(agg.ForbiddenDetail(), tt.reason) {
				t.Errorf("forbidden for %q, want a reason mentioning %q", agg.ForbiddenDetail(), tt.reason)
			}
		})
	}
}

func TestSharedPodServesEveryMember(t *testing.T) {
	members := []Member{
		{Test: "shop-segmentation", UID: testUID, Run: runID},
		{Test: "payments", UID: "0d3c2b1a-5e4f-4a7b-9c8d-1e2f3a4b5c6d", Run: "g2-abc"},
	}
	checks := fixturePlan(frontendID).Checks
	checks[2].Member, checks[3].Member = 1, 1
	plan := PodPlan{Identity: frontendID, Checks: checks}
	pod := RenderPod(SharedPod{Wave: "wave-1", Members: members, Spec: fixtureTest(nil).Spec, Plan: plan}, PodSettings{Image: managerImage})

	if pod.Labels[LabelRun] != "wave-1" {
		t.Errorf("label %s=%q, want the wave", LabelRun, pod.Labels[LabelRun])
	}
	for _, m := range members {
		if pod.Labels[TestLabel(m.UID)] != m.Run {
			t.Errorf("label %s=%q, want the member's run %s", TestLabel(m.UID), pod.Labels[TestLabel(m.UID)], m.Run)
		}
		if errs := validation.IsQualifiedName(TestLabel(m.UID)); len(errs) > 0 {
			t.Errorf("label key %q: %v", TestLabel(m.UID), errs)
		}
	}
	if got, err := MembersOf(pod); err != nil || !reflect.DeepEqual(got, members) {
		t.Errorf("MembersOf = %+v (%v), want %+v", got, err, members)
	}
	if len(pod.OwnerReferences) != 2 || pod.OwnerReferences[1].UID != members[1].UID || metav1.GetControllerOf(pod) != nil {
		t.Errorf("ownerReferences %+v, want one per member and no controller", pod.OwnerReferences)
	}
	if got, err := ChecksOf(pod); err != nil || !reflect.DeepEqual(got, checks) {
		t.Errorf("ChecksOf = %+v (%v), want the checks with their members", got, err)
	}
	if !strings.HasPrefix(pod.Name, members[0].Test+"-probe-") {
		t.Errorf("name %q, want the first member's test name as its prefix", pod.Name)
	}
}

func TestSettingsKeySeparatesTestsThatCannotSharePods(t *testing.T) {
	base := v1alpha1.ReachabilityTestSpec{ProbeTimeoutSeconds: 2, Attempts: 3}
	same := base
	same.Edges = []v1alpha1.Edge{{Name: "other-edges"}}
	if SettingsKey(same) != SettingsKey(base) {
		t.Error("tests that differ only in their edges get different keys")
	}
	variants := map[string]func(*v1alpha1.ReachabilityTestSpec){
		"timeout":  func(s *v1alpha1.ReachabilityTestSpec) { s.ProbeTimeoutSeconds = 5 },
		"attempts": func(s *v1alpha1.ReachabilityTestSpec) { s.Attempts = 1 },
		"image":    func(s *v1alpha1.ReachabilityTestSpec) { s.ProbePod = &v1alpha1.ProbePodSpec{Image: "other"} },
		"node": func(s *v1alpha1.ReachabilityTestSpec) {
			s.ProbePod = &v1alpha1.ProbePodSpec{NodeSelector: map[string]string{"a": "b"}}
		},
	}
	for what, change := range variants {
		s := base
		change(&s)
		if SettingsKey(s) == SettingsKey(base) {
			t.Errorf("tests that differ in their probe pod %s share a key", what)
		}
	}
}
