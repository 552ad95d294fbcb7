//go:build e2e

package e2e

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netconform/netconform/api/v1alpha1"
)

// TestBookstoreLockdown: a baseline deny, the mandatory DNS egress and one allow per
// real connection; then, on the enforcing profile, the two classic failures live: no DNS
// egress (every Service-name edge fails with DNSFailure) and an ingress allow without the
// source's egress allow (storefront to catalog fails although catalog admits it).
func TestBookstoreLockdown(t *testing.T) {
	ns, ingressNS := namespace("bookstore"), namespace("ingress-nginx")
	s := newScenario(t, ns, ingressNS)

	var (
		storefront = labels("app", "storefront")
		catalog    = labels("app", "catalog")
		orders     = labels("app", "orders")
		postgres   = labels("app", "postgres")
		rabbitmq   = labels("app", "rabbitmq")
		redis      = labels("app", "redis")
		controller = labels("app.kubernetes.io/name", "ingress-nginx", "app.kubernetes.io/component", "controller")
		http       = port{name: "http", number: 8080}
	)
	s.deploy(ingressNS, workload{name: "ingress-nginx-controller", labels: controller, ports: []port{http}})
	s.deploy(ns,
		workload{name: "storefront", labels: storefront, ports: []port{http}},
		workload{name: "catalog", labels: catalog, ports: []port{http}},
		workload{name: "orders", labels: orders, ports: []port{http}},
		workload{name: "postgres", labels: postgres, ports: []port{{name: "postgres", number: 5432}}},
		workload{name: "rabbitmq", labels: rabbitmq, ports: []port{{name: "amqp", number: 5672}}},
		workload{name: "redis", labels: redis, ports: []port{{name: "redis", number: 6379}}},
	)

	allowDNS := allowEgress(ns, "allow-dns", everyPod, dnsEgress())
	storefrontEgress := allowEgress(ns, "storefront-egress", selector(storefront),
		egressTo(peers(podPeer(appIn("catalog", "orders"))), tcpPorts(8080)))
	s.create(
		denyAll(ns, ingressEgress),
		allowDNS,
		allowIngress(ns, "http-from-ingress-nginx", appIn("storefront", "catalog", "orders"),
			peers(nsPodPeer(labels("kubernetes.io/metadata.name", ingressNS), controller)), tcpPorts(8080)),
		allowIngress(ns, "catalog-orders-from-storefront", appIn("catalog", "orders"),
			peers(podPeer(selector(storefront))), tcpPorts(8080)),
		storefrontEgress,
		allowIngress(ns, "postgres-from-catalog", selector(postgres), peers(podPeer(selector(catalog))), tcpPorts(5432)),
		allowEgress(ns, "catalog-egress", selector(catalog), egressTo(peers(podPeer(selector(postgres))), tcpPorts(5432))),
		allowIngress(ns, "rabbitmq-from-orders", selector(rabbitmq), peers(podPeer(selector(orders))), tcpPorts(5672)),
		allowEgress(ns, "orders-egress", selector(orders), egressTo(peers(podPeer(selector(rabbitmq))), tcpPorts(5672))),
	)

	var (
		fromIngress    = source(ingressNS, controller)
		fromStorefront = source(ns, storefront)
		fromCatalog    = source(ns, catalog)
		fromOrders     = source(ns, orders)
		intruder       = source(ns, nil)
	)
	edges := []v1alpha1.Edge{
		allow("ingress-to-storefront", fromIngress, toService(ns, "storefront", 8080)),
		allow("ingress-to-catalog", fromIngress, toService(ns, "catalog", 8080)),
		allow("ingress-to-orders", fromIngress, toService(ns, "orders", 8080)),
		allow("storefront-to-catalog", fromStorefront, toService(ns, "catalog", 8080)),
		allow("storefront-to-orders", fromStorefront, toService(ns, "orders", 8080)),
		allow("storefront-resolves-catalog", fromStorefront, toDNS(serviceName(ns, "catalog"))),
		allow("catalog-to-postgres", fromCatalog, toPods(ns, postgres, intstr.FromInt32(5432))),
		allow("orders-to-rabbitmq", fromOrders, toPods(ns, rabbitmq, intstr.FromString("amqp"))),
		deny("storefront-to-postgres", fromStorefront, toPods(ns, postgres, intstr.FromInt32(5432))),
		deny("storefront-to-redis", fromStorefront, toPods(ns, redis, intstr.FromInt32(6379))),
		deny("orders-to-redis", fromOrders, toPods(ns, redis, intstr.FromInt32(6379))),
		deny("orders-to-postgres", fromOrders, toPods(ns, postgres, intstr.FromInt32(5432))),
		deny("catalog-to-orders", fromCatalog, toService(ns, "orders", 8080)),
		deny("catalog-to-rabbitmq", fromCatalog, toPods(ns, rabbitmq, intstr.FromInt32(5672))),
		deny("orders-to-catalog", fromOrders, toService(ns, "catalog", 8080)),
		deny("intruder-to-postgres", intruder, toPods(ns, postgres, intstr.FromInt32(5432))),
		deny("intruder-to-catalog", intruder, toService(ns, "catalog", 8080)),
		deny("ingress-to-postgres", fromIngress, toPods(ns, postgres, intstr.FromInt32(5432))),
		deny("ingress-stranger-to-catalog", source(ingressNS, nil), toService(ns, "catalog", 8080)),
		deny("postgres-to-storefront", source(ns, postgres), toPods(ns, storefront, intstr.FromInt32(8080))),
	}
	s.run(phase{name: "e2e-bookstore", edges: edges})

	// The CI gate on the same edges: the CLI, then the in-cluster Job.
	verdicts := s.gateVerdicts("e2e-bookstore-gate", edges)
	s.gateJob("e2e-bookstore-job", edges, verdicts)

	if cfg.profile == noop {
		t.Log("noop profile: the live failures need an enforcer; the run above already shows every Deny edge caught")
		return
	}

	// Without DNS egress, every name a bookstore pod looks up times out: Allow edges to
	// Service names fail with DNSFailure, Deny edges to them prove nothing; edges to pod
	// IPs and every edge from ingress-nginx (no policy there) are unaffected.
	t.Logf("deleting %s", policyNames(allowDNS))
	s.remove(allowDNS)
	byName := func(e v1alpha1.Edge) bool { return e.From.Namespace == ns && (e.To.Service != nil || e.To.DNS != nil) }
	s.run(phase{name: "e2e-bookstore-no-dns", edges: edges, afterChange: true,
		overrides: overridesFor(edges, byName, func(e v1alpha1.Edge) outcome {
			switch {
			case e.To.DNS != nil && e.Expect == v1alpha1.ExpectAllow:
				return unexpectedDeny // the look-up itself is the connection, and it is blocked
			case e.To.DNS != nil:
				return unresolvedDeny
			case e.Expect == v1alpha1.ExpectAllow:
				return unresolvedAllow
			}
			return unresolvedDeny
		})})

	t.Logf("restoring %s", policyNames(allowDNS))
	s.create(allowEgress(ns, "allow-dns", everyPod, dnsEgress()))
	s.run(phase{name: "e2e-bookstore-dns-restored", edges: edges, afterChange: true})

	// An ingress allow is not enough: without storefront's egress allow, storefront
	// cannot reach catalog or orders although both still admit it.
	t.Logf("deleting %s", policyNames(storefrontEgress))
	s.remove(storefrontEgress)
	s.run(phase{name: "e2e-bookstore-no-storefront-egress", edges: edges, afterChange: true,
		overrides: overridesFor(edges, namedEdges("storefront-to-catalog", "storefront-to-orders"), always(unexpectedDeny))})
	s.create(allowEgress(ns, "storefront-egress", selector(storefront),
		egressTo(peers(podPeer(appIn("catalog", "orders"))), tcpPorts(8080))))

	if cfg.profile == partial {
		t.Log("partial profile: the drift alert needs a test that passes before the drift, and the open node lets Deny edges through; it runs on enforcing")
		return
	}
	// Drift: redis is kept private by the default deny alone, so deleting it opens redis
	// to every pod whose egress no policy limits, such as the ingress controller's.
	drift := append(slices.Clone(edges), deny("ingress-to-redis", fromIngress, toPods(ns, redis, intstr.FromInt32(6379))))
	s.checkDriftAlert("e2e-bookstore-drift", drift, "ingress-to-redis", func() *networkingv1.NetworkPolicy { return denyAll(ns, ingressEgress) })
}
