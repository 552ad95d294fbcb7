package probes

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// Kind is what a check does.
type Kind string

// Kinds of checks.
const (
	KindTCP Kind = "tcp" // a TCP handshake
	KindUDP Kind = "udp" // a UDP datagram that must be answered
	KindDNS Kind = "dns" // a DNS look-up
)

// Check is one connection or look-up a probe pod makes.
type Check struct {
	// Edge names the edge the check belongs to.
	Edge string `json:"e"`
	// Kind of check.
	Kind Kind `json:"k"`
	// Host is a DNS name or IP address.
	Host string `json:"h"`
	// Port is the destination port; zero for look-ups.
	Port int32 `json:"p,omitempty"`
	// Deny is true when the edge expects the check to be denied. The probe retries
	// only while what it sees differs from that.
	Deny bool `json:"d,omitempty"`
	// Member is the index, among the pod's members, of the run the check belongs to:
	// tests that probe from the same identity at the same time share probe pods.
	Member int `json:"m,omitempty"`
	// Same, when set, is one more than the index of an earlier check of the pod that
	// makes the same connection: the probe makes it once, and its result answers both.
	Same int `json:"s,omitempty"`
	// Policy is what the cluster's NetworkPolicies said of the check when the run was
	// planned, or empty when they could not tell. A new pod waits for its enforcer only
	// while the dataplane disagrees with the policies.
	Policy PolicyVerdict `json:"w,omitempty"`
	// Node is the node the check is made from, for an edge with from.nodes; the pod
	// that carries it is pinned there. Empty: wherever the pod runs.
	Node string `json:"n,omitempty"`
}

// PolicyVerdict is what the NetworkPolicies say of a check before it is made.
type PolicyVerdict string

// Policy verdicts.
const (
	PolicyAllows PolicyVerdict = "Allow"
	PolicyDenies PolicyVerdict = "Deny"
	// PolicyDeniesLookup: the policies deny the name look-up a check starts with, so a
	// programmed dataplane can only fail to resolve it. A pod the enforcer has half
	// programmed may resolve the name and be refused further on, for another reason.
	PolicyDeniesLookup PolicyVerdict = "DenyLookup"
)

// Agrees reports whether an observation is what the policies say, for the reason they
// say it: a denied connection whose name did not resolve, or a denied look-up whose
// name server answered, was stopped elsewhere.
func (v PolicyVerdict) Agrees(o v1alpha1.Observation) bool {
	switch v {
	case PolicyAllows:
		return o == v1alpha1.ObservedConnected
	case PolicyDenies:
		return Denied(o)
	case PolicyDeniesLookup:
		return o == v1alpha1.ObservedDNSFailure
	}
	return false
}

// Connection is what a check does, whatever edge or run it serves: checks with the same
// connection from the same pod are made once.
type Connection struct {
	Kind   Kind
	Host   string
	Port   int32
	Deny   bool
	Policy PolicyVerdict
}

// Connection returns what the check does.
func (c Check) Connection() Connection {
	return Connection{Kind: c.Kind, Host: c.Host, Port: c.Port, Deny: c.Deny, Policy: c.Policy}
}

// Made are the checks a probe makes: each connection once, in order.
func Made(checks []Check) []Check {
	made := make([]Check, 0, len(checks))
	for _, c := range checks {
		if c.Same == 0 {
			made = append(made, c)
		}
	}
	return made
}

// ResultIndexes maps each check to the index of its result among those of Made.
func ResultIndexes(checks []Check) []int {
	indexes := make([]int, len(checks))
	n := 0
	for i, c := range checks {
		if c.Same == 0 {
			indexes[i] = n
			n++
			continue
		}
		indexes[i] = indexes[c.Same-1]
	}
	return indexes
}

// Address is host:port for connections and the host alone for look-ups.
func (c Check) Address() string {
	if c.Kind == KindDNS {
		return c.Host
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
}

// Result is how one check ended.
type Result struct {
	Observation v1alpha1.Observation
	// Attempts made, at least one when the check ran.
	Attempts int
	// Latency of the last attempt.
	Latency time.Duration
	// Target is what was dialed: ip:port, or the name server of a look-up.
	Target string
	// Message explains the observation when it needs explaining.
	Message string
}

// EncodeChecks renders checks for the probe's command line.
func EncodeChecks(checks []Check) string {
	b, err := json.Marshal(checks)
	if err != nil { // Check holds only strings, ints and bools.
		panic(err)
	}
	return string(b)
}

// DecodeChecks parses checks from the probe's command line.
func DecodeChecks(s string) ([]Check, error) {
	var checks []Check
	if err := json.Unmarshal([]byte(s), &checks); err != nil {
		return nil, fmt.Errorf("decoding checks: %w", err)
	}
	for i, c := range checks {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("check %d (%s): %w", i, c.Edge, err)
		}
		if c.Same != 0 && (c.Same > i || checks[c.Same-1].Same != 0 || checks[c.Same-1].Connection() != c.Connection()) {
			return nil, fmt.Errorf("check %d (%s): same as check %d, which is not an earlier check making the same connection", i, c.Edge, c.Same-1)
		}
	}
	return checks, nil
}

func (c Check) validate() error {
	switch c.Kind {
	case KindTCP, KindUDP:
		if c.Port < 1 || c.Port > 65535 {
			return fmt.Errorf("port %d out of range 1-65535", c.Port)
		}
	case KindDNS:
		if c.Port != 0 {
			return fmt.Errorf("a dns check takes no port")
		}
	default:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	if c.Host == "" {
		return fmt.Errorf("empty host")
	}
	switch c.Policy {
	case "", PolicyAllows, PolicyDenies, PolicyDeniesLookup:
	default:
		return fmt.Errorf("policy verdict %q is none of %s, %s and %s", c.Policy, PolicyAllows, PolicyDenies, PolicyDeniesLookup)
	}
	if c.Member < 0 || c.Same < 0 {
		return fmt.Errorf("member %d or same %d is negative", c.Member, c.Same)
	}
	return nil
}
