// Package testcases holds malformed and hostile ReachabilityTests with the messages that
// reject them. The API-server test and the offline validator's test share them, so that
// both answer a user with the same words, and the table says where each is rejected.
package testcases

import (
	"fmt"
	"strings"
)

// RejectedBy says which check rejects a case, and so where the case is run.
type RejectedBy string

const (
	// CRD is the CRD's schema or one of its CEL rules. The API server and the offline
	// validator, which validates with the CRD, reject it with the same message.
	CRD RejectedBy = "CRD"
	// Go is internal/schedule, which the offline validator and the reconciler use. CEL
	// cannot read cron (lists, ranges, names, time zones), so the API server accepts
	// the test, and the reconciler reports it on the Completed condition and never runs it.
	Go RejectedBy = "Go"
	// Reader is the offline validator's reading of the file (encodings, YAML bombs, sizes,
	// repeated keys). The API server never sees the file, only the JSON made of it.
	Reader RejectedBy = "file reader"
)

// Malformed is a test that must be rejected, and what the first message must contain:
// the field (or, for a file, the line) and the fix.
type Malformed struct {
	Name string
	// Spec is the test's spec as YAML, for a case about a field; File is a whole file,
	// for a case about the file (RejectedBy Reader).
	Spec, File string
	Want       []string
	RejectedBy RejectedBy
	// Line is where the offline validator must place the first message in the file
	// Document makes of Spec; 0 is the spec's first line.
	Line int
}

// SpecLine is the line of the spec's first field in a Document.
const SpecLine = 6

// Document is a file with one test named "malformed" of the spec (YAML) given.
func Document(spec string) string {
	indented := "  " + strings.ReplaceAll(spec, "\n", "\n  ")
	return "apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata:\n  name: malformed\nspec:\n" + indented + "\n"
}

// MalformedSpecs lists the cases: at least one per validation rule, and hostile input of
// every kind.
func MalformedSpecs() []Malformed {
	cases := append(fieldCases(), labelCases()...)
	cases = append(cases, schedulingCases()...)
	cases = append(cases, nodeCases()...)
	cases = append(cases, scheduleCases()...)
	cases = append(cases, typeCases()...)
	cases = append(cases, fileCases()...)
	for i := range cases {
		if cases[i].RejectedBy == "" {
			cases[i].RejectedBy = CRD
		}
	}
	return cases
}

const okEdge = `{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 80}}, expect: Allow}`

// withEdge is a spec of one valid edge and the fields given.
func withEdge(fields string) string { return fields + "\nedges: [" + okEdge + "]" }

// fromLabels is a spec whose one edge's source carries the labels given (flow YAML).
func fromLabels(labels string) string {
	return `edges: [{name: e1, from: {namespace: a, podLabels: ` + labels + `}, to: {dns: {name: a.example}}, expect: Allow}]`
}

func fieldCases() []Malformed {
	return []Malformed{
		{Name: "no destination", Spec: `edges: [{name: e1, from: {namespace: a}, to: {}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to", "to must set exactly one of service, pods, host or dns"}},
		{Name: "two destinations", Spec: `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}, dns: {name: a.example}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to", "to must set exactly one of service, pods, host or dns"}},
		{Name: "port zero", Spec: `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: 0}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.service.port", "port must be a number from 1 to 65535 or a port name"}},
		{Name: "port too high", Spec: `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: a, podLabels: {app: x}, port: 70000}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.pods.port", "port must be a number from 1 to 65535"}},
		{Name: "bad port name", Spec: `edges: [{name: e1, from: {namespace: a}, to: {service: {name: s, namespace: a, port: Http_Port}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.service.port", "port must be a number from 1 to 65535 or a port name"}},
		{Name: "host port out of range", Spec: `edges: [{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: 65536}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.host.port", "less than or equal to 65535"}},
		{Name: "host port negative", Spec: `edges: [{name: e1, from: {namespace: a}, to: {host: {host: 10.0.0.1, port: -1}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.host.port", "greater than or equal to 1"}},
		{Name: "duplicate edge names", Spec: `edges: [` + okEdge + `, ` + okEdge + `]`,
			Want: []string{"spec.edges[1]", "Duplicate value", `"name":"e1"`}},
		{Name: "dns with protocol", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, protocol: UDP, expect: Allow}]`,
			Want: []string{"spec.edges[0]", "a dns destination takes no protocol: remove protocol from this edge"}},
		{Name: "dns with port", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default, port: 53}}, expect: Allow}]`,
			Want: []string{`unknown field "spec.edges[0].to.dns.port"`}},
		{Name: "unknown rerun trigger", Spec: withEdge(`rerunOn: [Schedule]`),
			Want: []string{"spec.rerunOn[0]", `Unsupported value: "Schedule"`, `"PolicyChange", "LabelChange"`}},
		{Name: "rerun trigger twice", Spec: withEdge(`rerunOn: [PolicyChange, PolicyChange]`),
			Want: []string{"spec.rerunOn[1]", `Duplicate value: "PolicyChange"`}},
		{Name: "missing expect", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}}]`,
			Want: []string{"spec.edges[0].expect", "Required value"}},
		{Name: "expect null", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, expect: null}]`,
			Want: []string{"spec.edges[0].expect", "Required value"}},
		{Name: "unknown expect", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, expect: Maybe}]`,
			Want: []string{"spec.edges[0].expect", `supported values: "Allow", "Deny"`}},
		{Name: "expect in lower case", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: kubernetes.default}}, expect: allow}]`,
			Want: []string{"spec.edges[0].expect", `Unsupported value: "allow": supported values: "Allow", "Deny"`}},
		{Name: "unknown protocol", Spec: `edges: [{name: e1, from: {namespace: a}, to: {host: {host: a.example, port: 1}}, protocol: SCTP, expect: Allow}]`,
			Want: []string{"spec.edges[0].protocol", `supported values: "TCP", "UDP"`}},
		{Name: "no edges", Spec: `edges: []`, Want: []string{"spec.edges", "at least 1 items"}},
		{Name: "no edges and no canary", Spec: `probeTimeoutSeconds: 2`,
			Want: []string{"spec", "a test needs edges (1 to 2000) or a canary: add spec.edges or spec.canary"}},
		{Name: "canary timeout zero", Spec: "canary: {timeoutSeconds: 0}", Want: []string{"spec.canary.timeoutSeconds", "greater than or equal to 1"}},
		{Name: "canary timeout above 300", Spec: "canary: {timeoutSeconds: 301}", Want: []string{"spec.canary.timeoutSeconds", "less than or equal to 300"}},
		{Name: "canary namespace with capitals", Spec: "canary: {namespace: Netconform}", Want: []string{"spec.canary.namespace", "should match"}},
		{Name: "timeout zero", Spec: withEdge(`probeTimeoutSeconds: 0`), Want: []string{"spec.probeTimeoutSeconds", "greater than or equal to 1"}},
		{Name: "too many attempts", Spec: withEdge(`attempts: 11`), Want: []string{"spec.attempts", "less than or equal to 10"}},
		{Name: "edge name with capitals", Spec: `edges: [{name: Front-To-Back, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].name", "should match"}},
		{Name: "edge name of 64 characters", Spec: `edges: [{name: ` + strings.Repeat("e", 64) + `, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].name", "may not be more than 63 bytes"}},
		{Name: "empty source namespace", Spec: `edges: [{name: e1, from: {namespace: ""}, to: {dns: {name: a.example}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].from.namespace", "should be at least 1 chars long"}},
		{Name: "host with a scheme", Spec: `edges: [{name: e1, from: {namespace: a}, to: {host: {host: "https://api.example.com", port: 443}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.host.host", "should match"}},
		{Name: "dns name with an underscore", Spec: `edges: [{name: e1, from: {namespace: a}, to: {dns: {name: my_service.example}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.dns.name", "should match"}},
		{Name: "service name starting with a digit", Spec: `edges: [{name: e1, from: {namespace: a}, to: {service: {name: 1db, namespace: a, port: 5432}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.service.name", "should match"}},
		{Name: "too many edges", Spec: ManyEdges(2001), Want: []string{"spec.edges", "must have at most 2000 items"}},
		{Name: "misspelt field of an edge, on a later line than the edge", Spec: "edges:\n- name: e1\n  from: {namespace: a}\n  to: {dns: {name: a.example}}\n  expct: Allow",
			Want: []string{`unknown field "spec.edges[0].expct"`}, Line: 10},
		{Name: "misspelt edges", Spec: "edgez: [" + okEdge + "]", Want: []string{`unknown field "spec.edgez"`}},
		{Name: "misspelt destination, on a later line than to", Spec: "edges:\n- name: e1\n  from: {namespace: a}\n  expect: Allow\n  to:\n    servce: {name: s, namespace: a, port: 80}",
			Want: []string{`unknown field "spec.edges[0].to.servce"`}, Line: 11},
		{Name: "one megabyte of unknown fields", Spec: UnknownFields(1 << 20), Want: []string{`unknown field "spec.unknown0000000"`}, Line: SpecLine + 1},
	}
}

func labelCases() []Malformed {
	const keyFix = "podLabels keys must be label keys: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as app or example.com/tier"
	const valueFix = "should match '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$'"
	from := "spec.edges[0].from.podLabels"
	return []Malformed{
		{Name: "reserved label prefix", Spec: fromLabels(`{netconform.io/run: x}`),
			Want: []string{"spec.edges[0].from", "podLabels must not use the netconform.io/ prefix: it is reserved for labels netconform adds"}},
		{Name: "label key with a space", Spec: fromLabels(`{"app name": web}`), Want: []string{from, keyFix}},
		{Name: "label key with a capitalised prefix", Spec: fromLabels(`{Example.com/app: web}`), Want: []string{from, keyFix}},
		{Name: "label key of 64 characters", Spec: fromLabels(`{` + strings.Repeat("k", 64) + `: web}`), Want: []string{from, keyFix}},
		{Name: "empty label key", Spec: fromLabels(`{"": web}`), Want: []string{from, keyFix}},
		{Name: "label key with two slashes", Spec: fromLabels(`{a/b/c: web}`), Want: []string{from, keyFix}},
		{Name: "label key with a NUL escape", Spec: fromLabels(`{"app\0": web}`), Want: []string{from, keyFix}},
		{Name: "label value with a space", Spec: fromLabels(`{app: "my web"}`), Want: []string{from + ".app", valueFix}},
		{Name: "label value starting with a dash", Spec: fromLabels(`{app: -web}`), Want: []string{from + ".app", valueFix}},
		{Name: "label value of 64 characters", Spec: fromLabels(`{app: ` + strings.Repeat("v", 64) + `}`), Want: []string{from + ".app", "may not be more than 63 bytes"}},
		{Name: "label value with a byte order mark", Spec: fromLabels(`{app: "\ufeffweb"}`), Want: []string{from + ".app", valueFix}},
		{Name: "label value with a terminal escape", Spec: fromLabels(`{app: "\e[31mred"}`), Want: []string{from + ".app", valueFix}},
		{Name: "label value that is a number", Spec: fromLabels(`{app: 3}`), Want: []string{from + ".app", "must be of type string"}},
		{Name: "33 labels", Spec: fromLabels(manyLabels(33)), Want: []string{from, "must have at most 32 items"}},
		{Name: "destination label key invalid", Spec: `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: b, podLabels: {"app!": x}, port: 80}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.pods.podLabels", keyFix}},
		{Name: "destination label value invalid", Spec: `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: b, podLabels: {app: "a:b"}, port: 80}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.pods.podLabels.app", valueFix}},
		{Name: "destination without labels", Spec: `edges: [{name: e1, from: {namespace: a}, to: {pods: {namespace: b, podLabels: {}, port: 80}}, expect: Allow}]`,
			Want: []string{"spec.edges[0].to.pods.podLabels", "should have at least 1 properties"}},
		{Name: "service account with capitals", Spec: serviceAccount("Web"),
			Want: []string{"spec.edges[0].from.serviceAccountName", "serviceAccountName must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, such as web or web.v2"}},
		{Name: "service account with an underscore", Spec: serviceAccount("web_sa"), Want: []string{"spec.edges[0].from.serviceAccountName", "serviceAccountName must be a DNS subdomain"}},
		{Name: "service account ending with a dot", Spec: serviceAccount("web."), Want: []string{"spec.edges[0].from.serviceAccountName", "serviceAccountName must be a DNS subdomain"}},
		{Name: "service account of 254 characters", Spec: serviceAccount(strings.Repeat("s", 254)), Want: []string{"spec.edges[0].from.serviceAccountName", "may not be more than 253 bytes"}},
	}
}

func serviceAccount(name string) string {
	return `edges: [{name: e1, from: {namespace: a, serviceAccountName: "` + name + `"}, to: {dns: {name: a.example}}, expect: Allow}]`
}

func manyLabels(n int) string {
	labels := make([]string, n)
	for i := range labels {
		labels[i] = fmt.Sprintf("l%d: v", i)
	}
	return "{" + strings.Join(labels, ", ") + "}"
}

// fromNodes is a spec whose one edge is checked from the nodes given (flow YAML).
func fromNodes(nodes string) string {
	return `edges: [{name: e1, from: {namespace: a, nodes: ` + nodes + `}, to: {dns: {name: a.example}}, expect: Allow}]`
}

func nodeCases() []Malformed {
	const field = "spec.edges[0].from.nodes"
	const oneOf = "from.nodes takes exactly one of all: true or selector: set all: true for every node, or selector.matchLabels for some"
	return []Malformed{
		{Name: "nodes empty", Spec: fromNodes(`{}`), Want: []string{field, oneOf}},
		{Name: "nodes all false", Spec: fromNodes(`{all: false}`), Want: []string{field, oneOf}},
		{Name: "nodes all and selector", Spec: fromNodes(`{all: true, selector: {matchLabels: {pool: a}}}`), Want: []string{field, oneOf}},
		{Name: "nodes all not a boolean", Spec: fromNodes(`{all: "yes"}`), Want: []string{field + ".all", "must be of type boolean"}},
		{Name: "nodes selector without labels", Spec: fromNodes(`{selector: {matchLabels: {}}}`),
			Want: []string{field + ".selector.matchLabels", "should have at least 1 properties"}},
		{Name: "nodes selector without matchLabels", Spec: fromNodes(`{selector: {}}`),
			Want: []string{field + ".selector.matchLabels", "Required value"}},
		{Name: "nodes selector key invalid", Spec: fromNodes(`{selector: {matchLabels: {"pool!": a}}}`),
			Want: []string{field + ".selector.matchLabels", "matchLabels keys must be label keys", "such as pool or topology.kubernetes.io/zone"}},
		{Name: "nodes selector value invalid", Spec: fromNodes(`{selector: {matchLabels: {pool: "a b"}}}`),
			Want: []string{field + ".selector.matchLabels.pool", "should match '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$'"}},
		{Name: "nodes selector value of 64 characters", Spec: fromNodes(`{selector: {matchLabels: {pool: ` + strings.Repeat("p", 64) + `}}}`),
			Want: []string{field + ".selector.matchLabels.pool", "may not be more than 63 bytes"}},
		{Name: "nodes selector of 17 labels", Spec: fromNodes(`{selector: {matchLabels: ` + manyLabels(17) + `}}`),
			Want: []string{field + ".selector.matchLabels", "must have at most 16 items"}},
	}
}

func schedulingCases() []Malformed {
	probePod := func(fields string) string { return withEdge("probePod: " + fields) }
	tol := "spec.probePod.tolerations[0]"
	return []Malformed{
		{Name: "node selector key invalid", Spec: probePod(`{nodeSelector: {"kubernetes.io/": x}}`),
			Want: []string{"spec.probePod.nodeSelector", "nodeSelector keys must be label keys", "such as app or example.com/tier"}},
		{Name: "node selector value invalid", Spec: probePod(`{nodeSelector: {disk: "ssd fast"}}`),
			Want: []string{"spec.probePod.nodeSelector.disk", "should match '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$'"}},
		{Name: "node selector value of 64 characters", Spec: probePod(`{nodeSelector: {disk: ` + strings.Repeat("d", 64) + `}}`),
			Want: []string{"spec.probePod.nodeSelector.disk", "may not be more than 63 bytes"}},
		{Name: "toleration operator In", Spec: probePod(`{tolerations: [{key: a, operator: In, value: b}]}`),
			Want: []string{tol + ".operator", "operator must be Exists or Equal (the default)"}},
		{Name: "toleration Exists with a value", Spec: probePod(`{tolerations: [{key: a, operator: Exists, value: b}]}`),
			Want: []string{tol + ".value", "a toleration with operator Exists takes no value: remove value, or use operator Equal"}},
		{Name: "toleration without a key and operator Equal", Spec: probePod(`{tolerations: [{operator: Equal, value: b}]}`),
			Want: []string{tol + ".operator", "a toleration without a key must have operator Exists, which tolerates every taint: set key, or operator: Exists"}},
		{Name: "toleration effect unknown", Spec: probePod(`{tolerations: [{key: a, operator: Exists, effect: NoRun}]}`),
			Want: []string{tol + ".effect", "effect must be NoSchedule, PreferNoSchedule or NoExecute, or empty for every effect"}},
		{Name: "tolerationSeconds without NoExecute", Spec: probePod(`{tolerations: [{key: a, operator: Exists, effect: NoSchedule, tolerationSeconds: 60}]}`),
			Want: []string{tol + ".tolerationSeconds", "tolerationSeconds applies only to effect NoExecute: set effect: NoExecute, or remove tolerationSeconds"}},
		{Name: "tolerationSeconds as a string", Spec: probePod(`{tolerations: [{key: a, operator: Exists, effect: NoExecute, tolerationSeconds: "60"}]}`),
			Want: []string{tol + ".tolerationSeconds", "must be of type integer"}},
		{Name: "toleration key invalid", Spec: probePod(`{tolerations: [{key: "a b", operator: Exists}]}`),
			Want: []string{tol + ".key", "key must be a label key", "such as node-role.kubernetes.io/control-plane"}},
		{Name: "toleration key of 318 characters", Spec: probePod(`{tolerations: [{key: ` + strings.Repeat("k", 318) + `, operator: Exists}]}`),
			Want: []string{tol + ".key", "may not be more than 317 bytes"}},
		{Name: "toleration value invalid", Spec: probePod(`{tolerations: [{key: a, value: "b c"}]}`),
			Want: []string{tol + ".value", "value must be a label value"}},
		{Name: "33 tolerations", Spec: probePod(`{tolerations: [` + strings.TrimSuffix(strings.Repeat(`{operator: Exists}, `, 33), ", ") + `]}`),
			Want: []string{"spec.probePod.tolerations", "must have at most 32 items"}},
		{Name: "negative cpu request", Spec: probePod(`{resources: {requests: {cpu: "-100m"}, limits: {cpu: "1", memory: 64Mi}}}`),
			Want: []string{"spec.probePod.resources.requests", "requests of cpu and memory must not be negative: give zero or more"}},
		{Name: "negative memory limit", Spec: probePod(`{resources: {limits: {cpu: "1", memory: "-1Mi"}}}`),
			Want: []string{"spec.probePod.resources.limits", "limits of cpu and memory must not be negative: give zero or more"}},
		{Name: "memory request above its limit", Spec: probePod(`{resources: {requests: {memory: 128Mi}, limits: {cpu: 100m, memory: 64Mi}}}`),
			Want: []string{"spec.probePod.resources.requests", "a request of cpu or memory must not exceed its limit: lower the request or raise the limit"}},
		{Name: "cpu request above its limit, as integers", Spec: probePod(`{resources: {requests: {cpu: 2}, limits: {cpu: 1, memory: 64Mi}}}`),
			Want: []string{"spec.probePod.resources.requests", "a request of cpu or memory must not exceed its limit"}},
		{Name: "priority class with capitals", Spec: probePod(`{priorityClassName: High}`),
			Want: []string{"spec.probePod.priorityClassName", "priorityClassName must be a DNS subdomain"}},
		{Name: "priority class of 254 characters", Spec: probePod(`{priorityClassName: ` + strings.Repeat("p", 254) + `}`),
			Want: []string{"spec.probePod.priorityClassName", "may not be more than 253 bytes"}},
	}
}

func scheduleCases() []Malformed {
	const tooOften = "schedule fires more often than the minimum interval of 1m: use @every 1m or longer"
	const never = "schedule never fires: February has no day 30 or 31, and April, June, September and November no day 31: choose a day every chosen month has, such as 0 0 28 2 *"
	const goFix = `use five cron fields such as "0 3 * * *", a descriptor such as "@hourly", or "@every 10m" (at least "@every 1m")`
	schedule := func(s string) string { return withEdge(fmt.Sprintf("schedule: %q", s)) }
	return []Malformed{
		{Name: "schedule of four fields", Spec: schedule("0 3 * *"), Want: []string{"spec.schedule", "should match"}},
		{Name: "schedule of 129 characters", Spec: schedule("0" + strings.Repeat(" ", 121) + "3 * * *"), Want: []string{"spec.schedule", "may not be more than 128 bytes"}},
		{Name: "every 5 seconds", Spec: schedule("@every 5s"), Want: []string{"spec.schedule", tooOften}},
		{Name: "every half minute", Spec: schedule("@every 0.5m"), Want: []string{"spec.schedule", tooOften}},
		{Name: "every day, in days", Spec: schedule("@every 1d"), Want: []string{"spec.schedule", "an @every schedule takes a duration such as 10m or 1h30m"}},
		{Name: "every 10x", Spec: schedule("@every 10x"), Want: []string{"spec.schedule", "an @every schedule takes a duration such as 10m or 1h30m"}},
		{Name: "30 February", Spec: schedule("0 0 30 2 *"), Want: []string{"spec.schedule", never}},
		{Name: "31 April", Spec: schedule("0 0 31 4 *"), Want: []string{"spec.schedule", never}},
		{Name: "31 November, any weekday", Spec: schedule("15 4 31 11 ?"), Want: []string{"spec.schedule", never}},
		{Name: "30 or 31 February, by name", Spec: schedule("0 0 30,31 FEB *"), RejectedBy: Go,
			Want: []string{"spec.schedule", `schedule "0 0 30,31 FEB *" never fires`, goFix}},
		{Name: "31 February or April", Spec: schedule("0 0 31 2,4 *"), RejectedBy: Go,
			Want: []string{"spec.schedule", "never fires", goFix}},
		{Name: "minute 61", Spec: schedule("61 * * * *"), RejectedBy: Go,
			Want: []string{"spec.schedule", "above maximum (59)", goFix}},
		{Name: "unknown time zone", Spec: schedule("CRON_TZ=Mars/Olympus 0 3 * *"), RejectedBy: Go,
			Want: []string{"spec.schedule", "Mars/Olympus", goFix}},
	}
}

func typeCases() []Malformed {
	return []Malformed{
		{Name: "attempts as a float", Spec: withEdge(`attempts: 2.5`), Want: []string{"spec.attempts", "must be of type"}},
		{Name: "attempts beyond int64", Spec: withEdge(`attempts: 99999999999999999999`), Want: []string{"spec.attempts", "must be of type"}},
		{Name: "timeout as a string", Spec: withEdge(`probeTimeoutSeconds: "2"`), Want: []string{"spec.probeTimeoutSeconds", "must be of type integer"}},
		{Name: "timeout beyond int32", Spec: withEdge(`probeTimeoutSeconds: 4294967298`), Want: []string{"spec.probeTimeoutSeconds", "must be of type integer with format int32"}},
		{Name: "edges as a string", Spec: `edges: all`, Want: []string{"spec.edges", "must be of type array"}},
		{Name: "an edge as a list", Spec: `edges: [[e1]]`, Want: []string{"spec.edges[0]", "must be of type object"}},
		{Name: "suspend as yes", Spec: withEdge(`suspend: "yes"`), Want: []string{"spec.suspend", "must be of type boolean"}},
		{Name: "spec as a list", Spec: `- edges`, Want: []string{"spec", "must be of type object"}},
	}
}

func fileCases() []Malformed {
	line5 := func(edge string) string {
		return "apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata: {name: x}\nspec:\n  edges: [" + edge + "]\n"
	}
	return []Malformed{
		{Name: "bytes that are not UTF-8", RejectedBy: Reader, File: line5("{name: e\xff1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}"),
			Want: []string{"<stdin>:5: column 19: byte 0xff is not UTF-8: save the file as UTF-8"}},
		{Name: "Latin-1 file", RejectedBy: Reader, File: line5("{name: e1, from: {namespace: a, podLabels: {team: caf\xe9}}, to: {dns: {name: a.example}}, expect: Allow}"),
			Want: []string{"<stdin>:5:", "byte 0xe9 is not UTF-8: save the file as UTF-8"}},
		{Name: "NUL byte", RejectedBy: Reader, File: line5("{name: e\x001, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow}"),
			Want: []string{"<stdin>:5: column 19: control character U+0000 is not allowed in YAML: remove it, or write it as an escape"}},
		{Name: "terminal escape", RejectedBy: Reader, File: line5("{name: e1, from: {namespace: \x1b[2Ja}, to: {dns: {name: a.example}}, expect: Allow}"),
			Want: []string{"<stdin>:5:", "control character U+001B is not allowed in YAML"}},
		{Name: "tab indentation", RejectedBy: Reader, File: "apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata: {name: x}\nspec:\n\tattempts: 2\n",
			Want: []string{"<stdin>:5: invalid YAML", "YAML indents with spaces"}},
		{Name: "repeated key", RejectedBy: Reader, File: line5("{name: e1, from: {namespace: a}, to: {dns: {name: a.example}}, expect: Allow, expect: Deny}"),
			Want: []string{`<stdin>:5: key "expect" is repeated: it is first set on line 5; keep one`}},
		{Name: "billion laughs", RejectedBy: Reader, File: billionLaughs(), Want: []string{"<stdin>:", "a YAML bomb?", "write the values out, or alias less"}},
		{Name: "aliases of a long value", RejectedBy: Reader, File: aliasedValue(1<<20, 20), Want: []string{"<stdin>:", "a YAML bomb?", "write the values out, or alias less"}},
		{Name: "file of 8 MiB and a byte", RejectedBy: Reader, File: "# " + strings.Repeat("x", 8<<20-1) + "\n",
			Want: []string{"<stdin>: larger than 8 MiB", "split the tests into several files"}},
	}
}

// billionLaughs is nine levels of nine aliases each: 9^9 values once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata: {name: bomb}\nspec:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	return b.String()
}

// aliasedValue is a value of size bytes, aliased n times.
func aliasedValue(size, n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: netconform.io/v1alpha1\nkind: ReachabilityTest\nmetadata: {name: long}\nspec:\n")
	fmt.Fprintf(&b, "  edges: [{name: e1, from: {namespace: a, podLabels: {app: &long %s}}, to: {dns: {name: a.example}}, expect: Allow}]\n", strings.Repeat("v", size))
	b.WriteString("  probePod: {nodeSelector: {")
	for i := range n {
		fmt.Fprintf(&b, "k%d: *long, ", i)
	}
	b.WriteString("}}\n")
	return b.String()
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

// UnknownFields is a spec of one valid edge and fields the schema does not know, about
// size bytes in all.
func UnknownFields(size int) string {
	var b strings.Builder
	b.WriteString("edges: [" + okEdge + "]\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "unknown%07d: value\n", i)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
