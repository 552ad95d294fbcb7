//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netconform/netconform/e2e/placement"
	"github.com/netconform/netconform/probes"
)

// How the suites spread a scenario across nodes. Probe pods are never placed by the
// suites: the operator's pods are scheduled as for any user. The fixtures are: on a
// cluster of several nodes, each scenario leaves one node, its probe node, to its probes
// (the scenarios take turns), and puts its fixtures round the nodes starting after it
// (node selectors), so that about two fixtures in three sit on another node. The fixtures
// that are not on the probe node prefer not to share a node with the scenario's probe
// pods (a soft pod anti-affinity, which the scheduler also weighs for the pods that come
// later), so the probes go to the probe node, and most edges, but not all, cross nodes.
// Anything a user could write in their own workloads; and a probe pod is never left
// unschedulable by it.

// hostnameLabel is the node label every kubelet sets to its node's name.
const hostnameLabel = "kubernetes.io/hostname"

// spread is where one scenario puts its fixtures.
type spread struct {
	// probeNode is the node left to the scenario's probe pods.
	probeNode string
	// order is the nodes in the order fixtures take them.
	order []string
	next  int
}

// spreadFor is the spread of the scenario numbered n (from 1) on the nodes.
func spreadFor(n int, nodes []string) spread {
	probeNode, order := placement.Spread(n, nodes)
	return spread{probeNode: probeNode, order: order}
}

// place puts a fixture pod of the scenario on the next node, and keeps the scenario's
// probe pods off that node unless it is the probe node. A fixture that chose its node
// keeps it.
func (s *scenario) place(pod *corev1.Pod) {
	sp := &s.spread
	if len(sp.order) == 0 || pod.Spec.NodeName != "" || pod.Spec.NodeSelector[hostnameLabel] != "" {
		return
	}
	node := sp.order[sp.next%len(sp.order)]
	sp.next++
	if pod.Spec.NodeSelector == nil {
		pod.Spec.NodeSelector = map[string]string{}
	}
	pod.Spec.NodeSelector[hostnameLabel] = node
	if node == sp.probeNode {
		return
	}
	pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: probes.LabelRun, Operator: metav1.LabelSelectorOpExists},
				}},
				Namespaces:  slices.Clone(s.namespaces),
				TopologyKey: hostnameLabel,
			},
		}},
	}}
}

// waitForNodes returns the schedulable nodes once there are as many as want says (any
// number when want is empty), waiting for nodes that are still joining.
func waitForNodes(ctx context.Context, want string) ([]string, error) {
	var nodes []string
	var err error
	wait := pollUntil(ctx, func(ctx context.Context) (bool, error) {
		nodes, err = schedulableNodes(ctx)
		return err == nil && (want == "" || strconv.Itoa(len(nodes)) == want), nil
	})
	switch {
	case err != nil:
		return nil, err
	case wait != nil:
		return nil, fmt.Errorf("NETCONFORM_E2E_NODES=%s, but %d nodes take pods after %s (%v): start the cluster with that many nodes (make cluster-up NODES=%s)", want, len(nodes), waitTimeout, nodes, want)
	}
	return nodes, nil
}

// schedulableNodes are the Ready nodes that take pods, sorted by name.
func schedulableNodes(ctx context.Context) ([]string, error) {
	var nodes corev1.NodeList
	if err := k8s.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var names []string
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable || !nodeReady(&n) || slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}) {
			continue
		}
		names = append(names, n.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no Ready node takes pods (of %d nodes): start the cluster's nodes", len(nodes.Items))
	}
	slices.Sort(names)
	return names, nil
}
