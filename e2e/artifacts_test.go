//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dump saves what a person needs to see why a scenario failed: its ReachabilityTests
// (status, results, events), and per namespace the pods (described, with logs), events,
// policies, Services and EndpointSlices; then the manager's logs. It returns the folder.
// Problems while saving are written beside the rest, never fail the test.
func (s *scenario) dump(reason string) string {
	s.dumps++
	dir := filepath.Join(cfg.artifacts, unsafeName.ReplaceAllString(s.t.Name(), "_"), fmt.Sprintf("%02d-%s", s.dumps, unsafeName.ReplaceAllString(reason, "_")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Sprintf("(nowhere: %v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := dumper{ctx: ctx, dir: dir}
	for _, name := range s.tests {
		d.test(name)
	}
	for _, ns := range s.namespaces {
		d.namespace(ns)
	}
	d.manager()
	if len(d.errs) > 0 {
		d.write("dump-errors.txt", []byte(strings.Join(d.errs, "\n")+"\n"))
	}
	return dir
}

type dumper struct {
	ctx  context.Context
	dir  string
	errs []string
}

func (d *dumper) write(name string, body []byte) {
	if err := os.WriteFile(filepath.Join(d.dir, name), body, 0o644); err != nil {
		d.errs = append(d.errs, err.Error())
	}
}

func (d *dumper) yaml(name string, obj any) {
	body, err := yaml.Marshal(obj)
	if err != nil {
		d.errs = append(d.errs, fmt.Sprintf("%s: %v", name, err))
		return
	}
	d.write(name, body)
}

func (d *dumper) fail(what string, err error) bool {
	if err != nil {
		d.errs = append(d.errs, fmt.Sprintf("%s: %v", what, err))
	}
	return err != nil
}

func (d *dumper) test(name string) {
	rt := &v1alpha1.ReachabilityTest{}
	if d.fail("getting ReachabilityTest "+name, k8s.Get(d.ctx, client.ObjectKey{Name: name}, rt)) {
		return
	}
	rt.ManagedFields = nil
	d.yaml("rt-"+name+".yaml", rt)
	var b strings.Builder
	for _, r := range rt.Status.Results {
		fmt.Fprintf(&b, "%s: expected %s, observed %s, verdict %s, %d attempts, target %s, %dms\n    %s\n",
			r.Edge, r.Expected, r.Observed, r.Verdict, r.Attempts, r.Target, r.LatencyMilliseconds, r.Message)
	}
	d.write("rt-"+name+"-results.txt", []byte(b.String()))
	var events corev1.EventList
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", "ReachabilityTest"), fields.OneTermEqualSelector("involvedObject.name", name))
	if !d.fail("listing events of "+name, k8s.List(d.ctx, &events, client.MatchingFieldsSelector{Selector: sel})) {
		d.write("rt-"+name+"-events.txt", []byte(eventLines(events.Items)))
	}
}

func (d *dumper) namespace(ns string) {
	var pods corev1.PodList
	if !d.fail("listing pods in "+ns, k8s.List(d.ctx, &pods, client.InNamespace(ns))) {
		var b strings.Builder
		for i := range pods.Items {
			describePod(&b, &pods.Items[i])
			d.logs(ns, pods.Items[i].Name)
		}
		d.write(ns+"-pods.txt", []byte(b.String()))
	}
	var events corev1.EventList
	if !d.fail("listing events in "+ns, k8s.List(d.ctx, &events, client.InNamespace(ns))) {
		d.write(ns+"-events.txt", []byte(eventLines(events.Items)))
	}
	var policies networkingv1.NetworkPolicyList
	if !d.fail("listing policies in "+ns, k8s.List(d.ctx, &policies, client.InNamespace(ns))) {
		for i := range policies.Items {
			policies.Items[i].ManagedFields = nil
		}
		d.yaml(ns+"-networkpolicies.yaml", policies.Items)
	}
	var svcs corev1.ServiceList
	var slices discoveryv1.EndpointSliceList
	if !d.fail("listing services in "+ns, k8s.List(d.ctx, &svcs, client.InNamespace(ns))) &&
		!d.fail("listing endpointslices in "+ns, k8s.List(d.ctx, &slices, client.InNamespace(ns))) {
		for i := range svcs.Items {
			svcs.Items[i].ManagedFields = nil
		}
		for i := range slices.Items {
			slices.Items[i].ManagedFields = nil
		}
		d.yaml(ns+"-services.yaml", map[string]any{"services": svcs.Items, "endpointSlices": slices.Items})
	}
}

// manager saves the logs of the netconform manager, wherever it is deployed.
func (d *dumper) manager() {
	var pods corev1.PodList
	if d.fail("listing manager pods", k8s.List(d.ctx, &pods, client.MatchingLabels{"app.kubernetes.io/name": "netconform", "app.kubernetes.io/component": "manager"})) {
		return
	}
	var b strings.Builder
	for i := range pods.Items {
		describePod(&b, &pods.Items[i])
		d.logs(pods.Items[i].Namespace, pods.Items[i].Name)
	}
	d.write("manager-pods.txt", []byte(b.String()))
}

func (d *dumper) logs(ns, pod string) {
	body, err := clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{TailLines: ptr.To[int64](1000)}).DoRaw(d.ctx)
	if err != nil {
		body = fmt.Appendf(nil, "(no logs: %v)\n", err)
	}
	d.write(fmt.Sprintf("logs-%s-%s.txt", ns, pod), body)
}

// describePod writes what `kubectl describe pod` shows first: phase, addresses, labels,
// conditions and container states.
func describePod(b *strings.Builder, p *corev1.Pod) {
	fmt.Fprintf(b, "pod %s/%s phase=%s ip=%s node=%s labels=%s\n", p.Namespace, p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName, labelString(p.Labels))
	if p.Status.Reason != "" || p.Status.Message != "" {
		fmt.Fprintf(b, "  status: %s %s\n", p.Status.Reason, p.Status.Message)
	}
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(b, "  condition %s=%s %s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, c := range p.Status.ContainerStatuses {
		fmt.Fprintf(b, "  container %s image=%s ready=%t restarts=%d\n", c.Name, c.Image, c.Ready, c.RestartCount)
		switch {
		case c.State.Waiting != nil:
			fmt.Fprintf(b, "    waiting: %s %s\n", c.State.Waiting.Reason, c.State.Waiting.Message)
		case c.State.Running != nil:
			fmt.Fprintf(b, "    running since %s\n", c.State.Running.StartedAt.Format(time.RFC3339))
		case c.State.Terminated != nil:
			t := c.State.Terminated
			fmt.Fprintf(b, "    terminated: %s exit=%d message=%q\n", t.Reason, t.ExitCode, t.Message)
		}
	}
	fmt.Fprintln(b)
}

// eventLines renders events oldest first, one a line.
func eventLines(events []corev1.Event) string {
	when := func(e corev1.Event) time.Time {
		switch {
		case !e.LastTimestamp.IsZero():
			return e.LastTimestamp.Time
		case !e.EventTime.IsZero():
			return e.EventTime.Time
		}
		return e.CreationTimestamp.Time
	}
	sort.SliceStable(events, func(i, j int) bool { return when(events[i]).Before(when(events[j])) })
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s %s %s %s/%s (x%d): %s\n", when(e).Format(time.RFC3339), e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, max(e.Count, 1), e.Message)
	}
	return b.String()
}
