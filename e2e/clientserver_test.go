//go:build e2e

package e2e

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestClientServer: default-deny ingress, then an allow from app=client to app=server;
// the client connects, an unlabelled pod does not. The Service listens on 80 and sends
// to the non-root server's 8080: a policy sees the pod's port, so the allow names the
// container port ("http"), never the Service's 80.
func TestClientServer(t *testing.T) {
	ns := namespace("client-server")
	s := newScenario(t, ns)

	client, server := labels("app", "client"), labels("app", "server")
	s.deploy(ns,
		workload{name: "server", labels: server, ports: []port{{name: "http", number: 8080, servicePort: 80}}},
		workload{name: "client", labels: client, ports: []port{{name: "http", number: 8080}}},
	)
	s.create(
		denyAll(ns, ingressOnly),
		allowIngress(ns, "server-from-client", selector(server), peers(podPeer(selector(client))), namedPorts("http")),
	)

	edges := []v1alpha1.Edge{
		allow("client-to-server", source(ns, client), toService(ns, "server", 80)),
		allow("client-to-server-pod", source(ns, client), toPods(ns, server, intstr.FromString("http"))),
		allow("client-resolves-kubernetes", source(ns, client), toDNS(serviceName("default", "kubernetes"))),
		deny("stranger-to-server", source(ns, nil), toService(ns, "server", 80)),
		deny("stranger-to-server-pod", source(ns, nil), toPods(ns, server, intstr.FromInt32(8080))),
		deny("server-to-client", source(ns, server), toPods(ns, client, intstr.FromInt32(8080))),
	}
	s.run(phase{name: "e2e-client-server", edges: edges})
}
