package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/offline"
)

var bookstoreOnce sync.Once

// deployBookstore puts the Bookstore sample on the shared API server as it would run:
// its namespaces, a ready pod per workload (there is no controller manager to make
// them), its Services and its policies.
func deployBookstore(t *testing.T) {
	t.Helper()
	requireAPIServer(t)
	var err error
	bookstoreOnce.Do(func() { err = createBookstore(context.Background()) })
	if err != nil {
		t.Fatalf("deploying the Bookstore: %v", err)
	}
}

func createBookstore(ctx context.Context) error {
	m, err := offline.Read([]string{bookstoreDir}, nil)
	if err != nil {
		return err
	}
	var objs []client.Object
	for i := range m.Cluster.Namespaces {
		ns := &m.Cluster.Namespaces[i]
		if ns.Name == "bookstore" || ns.Name == "ingress-nginx" {
			objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: ns.Labels}})
		}
	}
	for i := range m.Cluster.Services {
		svc := m.Cluster.Services[i]
		if svc.Namespace == "kube-system" {
			continue // the offline stand-in for the cluster DNS
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil // the API server assigns them
		objs = append(objs, &svc)
	}
	for i := range m.Cluster.Policies {
		objs = append(objs, &m.Cluster.Policies[i])
	}
	for _, o := range objs {
		if err := envClient.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	for i, p := range m.Cluster.Pods {
		if p.Namespace == "kube-system" {
			continue
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: filepath.Base(p.Name), Labels: p.Labels}, Spec: p.Spec}
		if err := envClient.Create(ctx, pod); err != nil {
			return fmt.Errorf("creating pod %s: %w", pod.Name, err)
		}
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.244.0.%d", 10+i),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
		if err := envClient.Status().Update(ctx, pod); err != nil {
			return fmt.Errorf("making pod %s ready: %w", pod.Name, err)
		}
	}
	return nil
}

// clusterState is what a what-if must leave as it found it: the Bookstore's
// NetworkPolicies (name → resourceVersion) and the ReachabilityTests.
func clusterState(t *testing.T) (policies map[string]string, tests []string) {
	t.Helper()
	ctx := context.Background()
	var nps networkingv1.NetworkPolicyList
	if err := envClient.List(ctx, &nps); err != nil {
		t.Fatal(err)
	}
	policies = map[string]string{}
	for _, p := range nps.Items {
		policies[p.Namespace+"/"+p.Name] = p.ResourceVersion
	}
	var rts v1alpha1.ReachabilityTestList
	if err := envClient.List(ctx, &rts); err != nil && !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, rt := range rts.Items {
		tests = append(tests, rt.Name)
	}
	slices.Sort(tests)
	return policies, tests
}

// TestWhatIfListsTheChangesAndWritesNothing: on a cluster running the Bookstore, the
// proposed policies of config/samples/whatif would let the storefront reach postgres:
// run --dry-run lists that one edge and exits 1, explain --policies says the answer
// changes; neither creates, changes or deletes anything.
func TestWhatIfListsTheChangesAndWritesNothing(t *testing.T) {
	deployBookstore(t)
	policiesBefore, testsBefore := clusterState(t)
	whatif := "../../../config/samples/whatif"

	code, out, errOut := runCLI("run", "--dry-run", "--policies", whatif, "-f", filepath.Join(bookstoreDir, "reachabilitytest.yaml"), "--kubeconfig", envKubeconf)
	if code != ExitFail {
		t.Fatalf("run --dry-run: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"What-if: 2 policies added to the cluster's (2 replacing one of the same name); nothing was applied",
		"1 edge would change:",
		"FAIL bookstore/storefront-to-postgres: Deny -> Allow (expected Deny):",
		"allowed by bookstore/storefront-egress egress rule 1 (to all pods in bookstore, any port)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run --dry-run: stdout lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI("explain", "--from", "bookstore/app=storefront", "--to", "svc/bookstore/postgres:5432", "--policies", whatif, "--kubeconfig", envKubeconf)
	if code != ExitOK || !strings.HasPrefix(out, "What-if with 2 policies added (nothing applied): DENIED before, ALLOWED after (changed)\nALLOWED\n") {
		t.Errorf("explain --policies: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	policiesAfter, testsAfter := clusterState(t)
	if fmt.Sprint(policiesAfter) != fmt.Sprint(policiesBefore) || !slices.Equal(testsAfter, testsBefore) {
		t.Errorf("the what-if wrote to the cluster: policies %v, now %v; tests %v, now %v", policiesBefore, policiesAfter, testsBefore, testsAfter)
	}
}

// TestREADMEOfflineExamples runs the commands of the README's "Offline runs and
// what-ifs", as written, from the repository's root: the offline ones with no cluster to
// be found, the what-ifs on the Bookstore, a pipe from kubectl kustomize as in a shell.
func TestREADMEOfflineExamples(t *testing.T) {
	deployBookstore(t)
	t.Chdir("../../..")
	commands := readmeCommands(t, "### Offline runs and what-ifs")
	if len(commands) < 4 {
		t.Fatalf("README examples %q: want the offline runs and the what-ifs", commands)
	}
	kubeconfig := envKubeconf
	noCluster(t)
	for _, line := range commands {
		producer, cmd, piped := strings.Cut(line, " | ")
		if !piped {
			cmd = producer
		}
		args := strings.Fields(strings.TrimPrefix(cmd, "netconform "))
		want := ExitOK
		if slices.Contains(args, "--dry-run") {
			want = ExitFail // the sample proposal breaks an edge
		}
		if !slices.Contains(args, "--offline") {
			args = append(args, "--kubeconfig", kubeconfig)
		}
		if piped {
			withStdin(t, kustomize(t, strings.Fields(producer)))
		}
		code, out, errOut := runCLI(args...)
		if code != want {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", line, code, want, out, errOut)
		}
	}
}

// readmeCommands are the netconform command lines in the sh blocks of a README section.
func readmeCommands(t *testing.T, heading string) []string {
	t.Helper()
	return readmeLines(t, heading, func(line string) bool {
		return strings.HasPrefix(line, "netconform ") || strings.Contains(line, " | netconform ")
	})
}

// readmeLines are the lines of the sh blocks of a README section that accept takes.
func readmeLines(t *testing.T, heading string, accept func(line string) bool) []string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(data), "\n"+heading+"\n")
	if !found {
		t.Fatalf("README has no %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var out []string
	inBlock := false
	for line := range strings.Lines(section) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = line == "```sh"
		case inBlock && accept(line):
			out = append(out, line)
		}
	}
	return out
}

// kustomize runs "kubectl kustomize DIR" with the kubectl envtest brings.
func kustomize(t *testing.T, producer []string) []byte {
	t.Helper()
	if len(producer) != 3 || producer[0] != "kubectl" || producer[1] != "kustomize" {
		t.Fatalf("README pipes from %q: the test knows only kubectl kustomize DIR", producer)
	}
	out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), producer[1:]...).Output()
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(producer, " "), err)
	}
	return out
}
