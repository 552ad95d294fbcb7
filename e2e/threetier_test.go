//go:build e2e

package e2e

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestThreeTiers: frontend, application and database in namespaces of their own.
// database admits only namespace application; application's backend admits only green
// frontend webservers (namespace AND pod in one peer). An ipBlock of webserver-green's
// address admits that address, not its labels, and lets reports reach exactly that pod.
// Then (enforcing only) the same backend rule written as two list items widens access,
// and the test, which declares the intent, reports the widened edges as unexpected
// allows. Last, every frontend pod's egress is denied except DNS and the proxy.
func TestThreeTiers(t *testing.T) {
	frontend, application, database, outside := namespace("frontend"), namespace("application"), namespace("database"), namespace("outside")
	s := newScenario(t, frontend, application, database, outside)

	var (
		green    = labels("app", "webserver", "type", "green")
		blue     = labels("app", "webserver", "type", "blue")
		yellow   = labels("app", "webserver", "type", "yellow")
		backend  = labels("app", "backend")
		reports  = labels("app", "reports")
		postgres = labels("app", "postgres")
		proxy    = labels("app", "proxy")
		http     = port{name: "http", number: 8080}
	)
	webservers := s.deploy(frontend,
		workload{name: "webserver-green", labels: green, ports: []port{http}},
		workload{name: "webserver-blue", labels: blue, ports: []port{http}},
		workload{name: "webserver-yellow", labels: yellow, ports: []port{http}},
	)
	s.deploy(application,
		workload{name: "backend", labels: backend, ports: []port{http}},
		workload{name: "reports", labels: reports, ports: []port{http}},
	)
	s.deploy(database, workload{name: "postgres", labels: postgres, ports: []port{{name: "postgres", number: 5432}}})
	s.deploy(outside, workload{name: "proxy", labels: proxy, ports: []port{{name: "proxy", number: 3128}, {name: "admin", number: 8080}}})

	greenFrontend := peers(nsPodPeer(labels("name", frontend), labels("type", "green")))
	backendPolicy := allowIngress(application, "backend-from-green-frontend", selector(backend), greenFrontend, tcpPorts(8080))
	greenIP := hostCIDR(webservers["webserver-green"].Status.PodIP)
	s.create(
		allowIngress(database, "postgres-from-application", everyPod, peers(nsPeer(labels("name", application))), tcpPorts(5432)),
		backendPolicy,
		allowIngress(application, "reports-from-green-ip", selector(reports), peers(ipPeer(greenIP)), tcpPorts(8080)),
		allowEgress(application, "reports-to-green-ip", selector(reports), egressTo(peers(ipPeer(greenIP)), tcpPorts(8080))),
	)
	t.Logf("reports admits, and reaches, only %s: the address of webserver-green", greenIP)

	var (
		fromGreen   = source(frontend, green)
		fromBlue    = source(frontend, blue)
		fromYellow  = source(frontend, yellow)
		fromBackend = source(application, backend)
		fromReports = source(application, reports)
		toBackend   = toService(application, "backend", 8080)
		toPostgres  = toPods(database, postgres, intstr.FromInt32(5432))
		toReports   = toPods(application, reports, intstr.FromInt32(8080))
	)
	edges := []v1alpha1.Edge{
		allow("green-to-backend", fromGreen, toBackend),
		deny("blue-to-backend", fromBlue, toBackend),
		deny("yellow-to-backend", fromYellow, toBackend),
		deny("frontend-stranger-to-backend", source(frontend, nil), toBackend),
		deny("application-green-to-backend", source(application, labels("type", "green")), toBackend),
		allow("backend-to-postgres", fromBackend, toService(database, "postgres", 5432)),
		allow("application-stranger-to-postgres", source(application, nil), toPostgres),
		deny("green-to-postgres", fromGreen, toPostgres),
		deny("proxy-to-postgres", source(outside, proxy), toPostgres),
		// A probe with webserver-green's labels has an address of its own: the ipBlock
		// admits the address, never the labels.
		deny("green-twin-to-reports", fromGreen, toReports),
		deny("blue-to-reports", fromBlue, toReports),
		deny("backend-to-reports", fromBackend, toReports),
		allow("reports-to-green", fromReports, toPods(frontend, green, intstr.FromInt32(8080))),
		deny("reports-to-blue", fromReports, toPods(frontend, blue, intstr.FromInt32(8080))),
	}
	s.run(phase{name: "e2e-threetier", edges: edges})

	if cfg.profile == noop {
		t.Log("noop profile: widening the rule changes nothing without an enforcer; the run above already shows every Deny edge caught")
	} else {
		s.widen(backendPolicy, frontend, edges)
		backendPolicy.Spec.Ingress[0].From = greenFrontend
		s.update(backendPolicy)
	}

	s.create(
		denyAll(frontend, egressOnly),
		allowEgress(frontend, "egress-dns-and-proxy", everyPod,
			dnsEgress(),
			egressTo(peers(nsPodPeer(labels("name", outside), proxy)), tcpPorts(3128)),
		),
	)
	toProxy := toPods(outside, proxy, intstr.FromString("proxy"))
	egress := []v1alpha1.Edge{
		allow("green-to-proxy", fromGreen, toService(outside, "proxy", 3128)),
		allow("blue-to-proxy", fromBlue, toProxy),
		allow("yellow-to-proxy", fromYellow, toProxy),
		allow("frontend-stranger-to-proxy", source(frontend, nil), toProxy),
		allow("green-resolves-backend", fromGreen, toDNS(serviceName(application, "backend"))),
		// backend still admits green: the frontend's egress lockdown is what stops it.
		deny("green-to-backend", fromGreen, toBackend),
		deny("blue-to-proxy-admin", fromBlue, toPods(outside, proxy, intstr.FromString("admin"))),
		deny("green-to-postgres", fromGreen, toPostgres),
	}
	s.run(phase{name: "e2e-threetier-egress", edges: egress, afterChange: true})
}

// widen rewrites backend's one peer as two list items, which are ORed: every pod of
// namespace frontend, and green pods of the policy's own namespace (a podSelector alone
// means the policy's namespace). The test declares the intent, so it must report the
// widened edges as unexpected allows.
func (s *scenario) widen(backendPolicy *networkingv1.NetworkPolicy, frontend string, edges []v1alpha1.Edge) {
	s.t.Helper()
	backendPolicy.Spec.Ingress[0].From = peers(nsPeer(labels("name", frontend)), podPeer(selector(labels("type", "green"))))
	s.update(backendPolicy)
	widened := namedEdges("blue-to-backend", "yellow-to-backend", "frontend-stranger-to-backend", "application-green-to-backend")
	s.run(phase{name: "e2e-threetier-widened", edges: edges, afterChange: true,
		overrides: overridesFor(edges, widened, always(unexpectedAllow))})
}
