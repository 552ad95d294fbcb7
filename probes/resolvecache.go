package probes

import (
	"context"
	"maps"
	"slices"
	"strings"
)

// onceResolver asks its Resolver about each destination once: edges to the same pods or
// Service port, which large tests hold by the hundred, would otherwise each cost a read
// of the API server, and a client's rate limit turns those reads into seconds.
type onceResolver struct {
	r     Resolver
	pods  map[string]podsAnswer
	ports map[string]portAnswer
}

type podsAnswer struct {
	targets []PodTarget
	err     error
}

type portAnswer struct {
	port int32
	err  error
}

func resolveOnce(r Resolver) *onceResolver {
	return &onceResolver{r: r, pods: map[string]podsAnswer{}, ports: map[string]portAnswer{}}
}

func (o *onceResolver) ReadyPods(ctx context.Context, namespace string, labels map[string]string) ([]PodTarget, error) {
	key := namespace + "/" + labelKey(labels)
	a, ok := o.pods[key]
	if !ok {
		a.targets, a.err = o.r.ReadyPods(ctx, namespace, labels)
		o.pods[key] = a
	}
	return a.targets, a.err
}

func (o *onceResolver) ServicePortNumber(ctx context.Context, namespace, service, name string) (int32, error) {
	key := namespace + "/" + service + "/" + name
	a, ok := o.ports[key]
	if !ok {
		a.port, a.err = o.r.ServicePortNumber(ctx, namespace, service, name)
		o.ports[key] = a
	}
	return a.port, a.err
}

// labelKey is canonical: the same labels in any order give the same key.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k + "=" + labels[k] + ",")
	}
	return b.String()
}
