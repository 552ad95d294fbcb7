package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/probes"
)

// apiResolver resolves destinations with live reads: target pods and Services are not
// cached, so the manager's memory does not grow with the cluster. Runs planned together
// share their reads of ready pods for a moment.
type apiResolver struct {
	reader client.Reader
	// recent shares reads of ready pods between runs planned together.
	recent *recentReads[[]probes.PodTarget]
	now    func() time.Time
}

var _ probes.Resolver = apiResolver{}

func (r apiResolver) ReadyPods(ctx context.Context, namespace string, podLabels map[string]string) ([]probes.PodTarget, error) {
	selector := labels.SelectorFromSet(podLabels).Add(notProbePods)
	if r.recent == nil {
		return r.readyPods(ctx, namespace, selector)
	}
	return r.recent.get(namespace+"/"+selector.String(), time.Time{}, r.now(), func() ([]probes.PodTarget, error) {
		return r.readyPods(ctx, namespace, selector)
	})
}

// readyPods lists the ready pods a selector matches. Probe pods are never ready, and
// large: the selector leaves them out.
func (r apiResolver) readyPods(ctx context.Context, namespace string, selector labels.Selector) ([]probes.PodTarget, error) {
	var pods corev1.PodList
	if err := r.reader.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	var targets []probes.PodTarget
	for i := range pods.Items {
		if target, ok := probes.TargetOf(&pods.Items[i]); ok {
			targets = append(targets, target)
		}
	}
	return targets, nil
}

func (r apiResolver) ServicePortNumber(ctx context.Context, namespace, service, name string) (int32, error) {
	var svc corev1.Service
	if err := r.reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: service}, &svc); err != nil {
		return 0, err
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p.Port, nil
		}
	}
	return 0, fmt.Errorf("the Service has no port named %q", name)
}

// notProbePods selects the pods that are not probe pods.
var notProbePods = func() labels.Requirement {
	r, err := labels.NewRequirement(probes.LabelRun, selection.DoesNotExist, nil)
	if err != nil {
		panic(err) // a constant requirement
	}
	return *r
}()

// endpointEvidence answers whether a destination has ready endpoints for a port, from
// the EndpointSlices of its namespace, read once per namespace and run.
type endpointEvidence struct {
	reader client.Reader
	slices map[string][]discoveryv1.EndpointSlice
	svcs   map[types.NamespacedName]*corev1.Service
}

func newEndpointEvidence(reader client.Reader) *endpointEvidence {
	return &endpointEvidence{reader: reader, slices: map[string][]discoveryv1.EndpointSlice{}, svcs: map[types.NamespacedName]*corev1.Service{}}
}

// podListens: a ready endpoint with this IP serves the port.
func (e *endpointEvidence) podListens(ctx context.Context, namespace, ip string, port int32, protocol corev1.Protocol) bool {
	for _, s := range e.namespaceSlices(ctx, namespace) {
		if slicePortReady(s, protocol, func(p discoveryv1.EndpointPort) bool { return p.Port != nil && *p.Port == port }, ip) {
			return true
		}
	}
	return false
}

// serviceListens: the Service port has at least one ready endpoint.
func (e *endpointEvidence) serviceListens(ctx context.Context, namespace, name string, port int32, protocol corev1.Protocol) bool {
	svc := e.service(ctx, namespace, name)
	if svc == nil {
		return false
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Port != port || sp.Protocol != protocol {
			continue
		}
		for _, s := range e.namespaceSlices(ctx, namespace) {
			if s.Labels[discoveryv1.LabelServiceName] != name {
				continue
			}
			if slicePortReady(s, protocol, func(p discoveryv1.EndpointPort) bool { return p.Name != nil && *p.Name == sp.Name }, "") {
				return true
			}
		}
	}
	return false
}

func slicePortReady(s discoveryv1.EndpointSlice, protocol corev1.Protocol, match func(discoveryv1.EndpointPort) bool, ip string) bool {
	portFound := false
	for _, p := range s.Ports {
		if match(p) && (p.Protocol == nil || *p.Protocol == protocol) {
			portFound = true
		}
	}
	if !portFound {
		return false
	}
	for _, ep := range s.Endpoints {
		if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
			continue
		}
		if ip == "" {
			return true
		}
		for _, a := range ep.Addresses {
			if a == ip {
				return true
			}
		}
	}
	return false
}

func (e *endpointEvidence) namespaceSlices(ctx context.Context, namespace string) []discoveryv1.EndpointSlice {
	if s, ok := e.slices[namespace]; ok {
		return s
	}
	var list discoveryv1.EndpointSliceList
	if err := e.reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		list.Items = nil // no evidence is the safe answer: the edge becomes Inconclusive
	}
	e.slices[namespace] = list.Items
	return list.Items
}

func (e *endpointEvidence) service(ctx context.Context, namespace, name string) *corev1.Service {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if svc, ok := e.svcs[key]; ok {
		return svc
	}
	svc := &corev1.Service{}
	if err := e.reader.Get(ctx, key, svc); err != nil {
		svc = nil
	}
	e.svcs[key] = svc
	return svc
}

// podEvidence answers whether a kubelet probe shows that a pod's port listens, from the
// pods an edge's destination selects, read once per namespace and selector and run: the
// dialled pods were chosen by those labels, and a namespace may hold many others. It reads
// after the checks were made, so that it sees a container that restarted, or a pod that
// went, meanwhile.
type podEvidence struct {
	reader client.Reader
	pods   map[string][]corev1.Pod
}

func newPodEvidence(reader client.Reader) *podEvidence {
	return &podEvidence{reader: reader, pods: map[string][]corev1.Pod{}}
}

// kubeletEvidence: the pod that has the check's address has a kubelet probe on its port,
// and has run steadily since the run began.
func (e *podEvidence) kubeletEvidence(ctx context.Context, dest *v1alpha1.PodsDestination, c probes.Check, since, now time.Time) (string, bool) {
	pods := e.selectedPods(ctx, dest)
	for i := range pods {
		if evidence, ok := probes.KubeletEvidence(&pods[i], c, since, now); ok {
			return evidence, true
		}
	}
	return "", false
}

func (e *podEvidence) selectedPods(ctx context.Context, dest *v1alpha1.PodsDestination) []corev1.Pod {
	selector := labels.SelectorFromSet(dest.PodLabels).Add(notProbePods)
	key := dest.Namespace + "/" + selector.String()
	if p, ok := e.pods[key]; ok {
		return p
	}
	var list corev1.PodList
	if err := e.reader.List(ctx, &list, client.InNamespace(dest.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		list.Items = nil // no evidence is the safe answer: the edge becomes Inconclusive
	}
	e.pods[key] = list.Items
	return list.Items
}
