//go:build e2e

package e2e

import (
	"net"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestProductionAPI: namespace production locked down in both directions; the api admits
// the frontend and namespace monitoring; the api reaches postgres, DNS and an off-cluster
// HTTPS host through ipBlock 0.0.0.0/0 except the private ranges, which keeps every
// in-cluster address out of that rule even on the same port.
func TestProductionAPI(t *testing.T) {
	ns, monitoring := namespace("production"), namespace("monitoring")
	s := newScenario(t, ns, monitoring)

	var (
		frontend   = labels("app", "frontend")
		api        = labels("app", "api")
		postgres   = labels("app", "postgres")
		prometheus = labels("app", "prometheus")
		internal   = labels("app", "internal-https")
		http       = port{name: "http", number: 8080}
	)
	s.deploy(ns,
		workload{name: "frontend", labels: frontend, ports: []port{http}},
		workload{name: "api", labels: api, ports: []port{http}},
		workload{name: "postgres", labels: postgres, ports: []port{{name: "postgres", number: 5432}}},
	)
	s.deploy(monitoring,
		workload{name: "prometheus", labels: prometheus, ports: []port{{name: "web", number: 9090}}},
		// An in-cluster server on the external port: the ipBlock's except must keep it out.
		workload{name: "internal-https", labels: internal, ports: []port{{name: "https", number: cfg.externalPort}}, lowPorts: cfg.externalPort < 1024},
	)

	s.create(
		denyAll(ns, ingressEgress),
		allowIngress(ns, "api-from-frontend-and-monitoring", selector(api),
			peers(podPeer(selector(frontend)), nsPeer(labels("name", monitoring))), tcpPorts(8080)),
		allowIngress(ns, "postgres-from-api", selector(postgres), peers(podPeer(selector(api))), tcpPorts(5432)),
		allowEgress(ns, "api-egress", selector(api),
			egressTo(peers(podPeer(selector(postgres))), tcpPorts(5432)),
			dnsEgress(),
			egressTo(peers(ipPeer("0.0.0.0/0", privateRanges...)), tcpPorts(cfg.externalPort)),
		),
		allowEgress(ns, "frontend-egress", selector(frontend),
			egressTo(peers(podPeer(selector(api))), tcpPorts(8080)),
			dnsEgress(),
		),
	)

	var (
		fromFrontend = source(ns, frontend)
		fromAPI      = source(ns, api)
		fromMonitor  = source(monitoring, prometheus)
		toAPIPod     = toPods(ns, api, intstr.FromInt32(8080))
		toPostgres   = toPods(ns, postgres, intstr.FromInt32(5432))
		toPartner    = toHost(cfg.externalHost, cfg.externalPort)
	)
	edges := []v1alpha1.Edge{
		allow("frontend-to-api", fromFrontend, toService(ns, "api", 8080)),
		allow("monitoring-to-api", fromMonitor, toService(ns, "api", 8080)),
		allow("api-to-postgres", fromAPI, toService(ns, "postgres", 5432)),
		allow("api-to-partner", fromAPI, toPartner),
		deny("frontend-to-postgres", fromFrontend, toPostgres),
		deny("frontend-to-partner", fromFrontend, toPartner),
		deny("monitoring-to-postgres", fromMonitor, toPostgres),
		deny("stranger-to-api", source(ns, nil), toAPIPod),
		deny("postgres-to-api", source(ns, postgres), toAPIPod),
		deny("api-to-frontend", fromAPI, toPods(ns, frontend, intstr.FromInt32(8080))),
		deny("api-to-internal-https", fromAPI, toPods(monitoring, internal, intstr.FromInt32(cfg.externalPort))),
	}
	if net.ParseIP(cfg.externalHost) == nil {
		edges = append(edges, allow("api-resolves-partner", fromAPI, toDNS(cfg.externalHost)))
	}
	s.run(phase{name: "e2e-production", edges: edges})
}
