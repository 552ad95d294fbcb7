// Package testcases holds malformed ReachabilityTest specs with the messages that reject
// them. The API-server test and the offline validator's test share them, so that both
// answer a user with the same words.
package testcases

import (
	"fmt"
	"strings"
)

// Malformed is a spec (YAML) the API rejects, and what each error message must contain.
type Malformed struct {
	Name string
	Spec string
	Want []string
}

// MalformedSpecs lists one case per validation rule of the CRD.
func MalformedSpecs() []Malformed {
	const okEdge = `{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 80}}, expect: Allow}`
	return []Malformed{
		{"no destination", `edges: [{name: e1, from: {namespace: a}, to: {}, expect: Allow}]`,
			[]string{"spec.edges[0].to", "to must set exactly one of service, pods, host or dns"}},
		{"two destinations", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}, dns: {name: a.example}}, expect: Allow}]`,
			[]string{"to must set exactly one of service, pods, host or dns"}},
		{"port zero", `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: 0}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.service.port", "port must be a number from 1 to 65535 or a port name"}},
		{"port too high", `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: a, podLabels: {app: x}, port: 70000}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.pods.port", "port must be a number from 1 to 65535"}},
		{"bad port name", `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: Http_Port}}, expect: Allow}]`,
			[]string{"port must be a number from 1 to 65535 or a port name"}},
		{"host port out of range", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 65536}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.host.port", "65535"}},
		{"duplicate edge names", `edges: [` + okEdge + `, ` + okEdge + `]`,
			[]string{"spec.edges[1]", "Duplicate value"}},
		{"dns with protocol", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, protocol: UDP, expect: Allow}]`,
			[]string{"a dns destination takes no protocol: remove protocol from this edge"}},
		{"dns with port", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default, port: 53}}, expect: Allow}]`,
			[]string{`unknown field "spec.edges[0].to.dns.port"`}},
		{"unknown rerun trigger", `rerunOn: [Schedule]
edges: [` + okEdge + `]`,
			[]string{"spec.rerunOn[0]", `Unsupported value: "Schedule"`, `"PolicyChange", "LabelChange"`}},
		{"missing expect", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}}]`,
			[]string{"spec.edges[0].expect", "Required value"}},
		{"unknown expect", `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, expect: Maybe}]`,
			[]string{"spec.edges[0].expect", `supported values: "Allow", "Deny"`}},
		{"unknown protocol", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}}, protocol: SCTP, expect: Allow}]`,
			[]string{"spec.edges[0].protocol", `supported values: "TCP", "UDP"`}},
		{"no edges", `edges: []`, []string{"spec.edges", "at least 1 items"}},
		{"no edges and no canary", `probeTimeoutSeconds: 2`, []string{"spec", "a test needs edges (1 to 2000) or a canary: add spec.edges or spec.canary"}},
		{"canary timeout zero", "canary: {timeoutSeconds: 0}", []string{"spec.canary.timeoutSeconds", "greater than or equal to 1"}},
		{"canary namespace with capitals", "canary: {namespace: Netconform}", []string{"spec.canary.namespace", "should match"}},
		{"reserved label prefix", `edges: [{name: e1, from: {namespace: a, podLabels: {netconform.io/run: x}}, to: {dns: {name: a.example}}, expect: Allow}]`,
			[]string{"podLabels must not use the netconform.io/ prefix"}},
		{"timeout zero", `probeTimeoutSeconds: 0
edges: [` + okEdge + `]`, []string{"spec.probeTimeoutSeconds", "greater than or equal to 1"}},
		{"too many attempts", `attempts: 11
edges: [` + okEdge + `]`, []string{"spec.attempts", "less than or equal to 10"}},
		{"edge name with capitals", `edges: [{name: Front-To-Back, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]`,
			[]string{"spec.edges[0].name", "should match"}},
		{"host with a scheme", `edges: [{name: e1, from: {namespace: a}, to: {host: {host: "https://api.example.com", port: 443}}, expect: Allow}]`,
			[]string{"spec.edges[0].to.host.host", "should match"}},
		{"schedule of four fields", "schedule: \"0 3 * *\"\nedges: [" + okEdge + "]", []string{"spec.schedule", "should match"}},
		{"too many edges", ManyEdges(2001), []string{"spec.edges", "must have at most 2000 items"}},
	}
}

// ManyEdges is a spec with n valid edges.
func ManyEdges(n int) string {
	var b strings.Builder
	b.WriteString("edges:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {name: e%d, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 80}}, expect: Allow}\n", i)
	}
	return b.String()
}
