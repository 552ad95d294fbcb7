// Command gen-admission writes config/admission/reachabilitytest-author.yaml: one
// ValidatingAdmissionPolicy per right that a ReachabilityTest uses on its author's
// behalf, each checking that right namespace by namespace. The checks are alike but for
// the namespace and the right, hence a generator. Run it from the repository root:
//
//	go run ./hack/gen-admission
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/template"
)

// maxNamespaces is how many distinct namespaces each policy checks one by one. Each
// authorizer check costs 350000 of the 10 million CEL cost units the API server grants
// one policy per request: 16 checks and the cluster-wide one fit, with room for
// deduplicating the namespaces of 2000 edges.
const maxNamespaces = 16

// right is one authorizer check a test needs its author to pass in a set of namespaces.
type right struct {
	Policy   string // the policy's name
	Why      string // the header comment: what the manager does with the right
	Group    string // API group of the resource
	Resource string // resource, as the authorizer names it
	Verb     string
	Named    string // the resource as a Role names it, with its group
	// Namespaces is a CEL list of the namespaces, with repeats, where the right is needed.
	Namespaces string
	Where      string // the refusal's clause after the namespace: what the test does there
	Remedy     string // what else the author may change instead
	Does       string // what the test does in more than 16 namespaces ("start probe pods in")
}

var (
	sources      = `(has(object.spec.edges) ? object.spec.edges.map(e, e.from.namespace) : [])`
	podTargets   = `(has(object.spec.edges) ? object.spec.edges.filter(e, has(e.to.pods)).map(e, e.to.pods.namespace) : [])`
	serviceNames = `(has(object.spec.edges) ? object.spec.edges.filter(e, has(e.to.service)).map(e, e.to.service.namespace) : [])`
)

var rights = []right{{
	Policy: "netconform-reachabilitytest-author",
	Why: `A ReachabilityTest makes the manager start pods, with the labels and service account it
# names, in the namespaces of its edges (spec.edges[].from.namespace) and of its canary
# (spec.canary.namespace, default netconform-system, the manager's namespace). This policy
# admits a test only if its author may create pods in each of those namespaces.`,
	Resource: "pods", Verb: "create", Named: "pods",
	Namespaces: sources + ` +
        (has(object.spec.canary) ? [has(object.spec.canary.namespace) ? object.spec.canary.namespace : 'netconform-system'] : [])`,
	Where:  "where this ReachabilityTest would start probe pods (spec.edges[].from.namespace, or spec.canary.namespace whose default is netconform-system)",
	Remedy: "remove what puts pods there",
	Does:   "start probe pods in",
}, {
	Policy: "netconform-reachabilitytest-reads-pods",
	Why: `An edge to pods (spec.edges[].to.pods) makes the manager list the pods of that namespace and
# report the ones it probes (names, IPs, the ports of their readiness probes) on the test's
# status, events and metrics. This policy admits a test only if its author may list pods in
# each of those namespaces.`,
	Resource: "pods", Verb: "list", Named: "pods",
	Namespaces: podTargets,
	Where:      "whose pods this ReachabilityTest would have the manager look up and report, names and IPs, on its status (spec.edges[].to.pods.namespace)",
	Remedy:     "remove the edges to pods there",
	Does:       "read pods in",
}, {
	Policy: "netconform-reachabilitytest-reads-services",
	Why: `An edge to a Service (spec.edges[].to.service) makes the manager get that Service and
# report its ports and addresses on the test's status. This policy admits a test only if its
# author may get services in each of those namespaces.`,
	Resource: "services", Verb: "get", Named: "services",
	Namespaces: serviceNames,
	Where:      "whose Service this ReachabilityTest would have the manager look up and report on its status (spec.edges[].to.service.namespace)",
	Remedy:     "remove the edges to Services there",
	Does:       "read Services in",
}, {
	Policy: "netconform-reachabilitytest-reads-endpointslices",
	Why: `An edge to a Service (spec.edges[].to.service) makes the manager list that namespace's
# EndpointSlices to find the Service's backends, and report them on the test's status. This
# policy admits a test only if its author may list endpointslices in each of those namespaces.`,
	Group: "discovery.k8s.io", Resource: "endpointslices", Verb: "list", Named: "endpointslices.discovery.k8s.io",
	Namespaces: serviceNames,
	Where:      "whose Service backends this ReachabilityTest would have the manager look up and report on its status (spec.edges[].to.service.namespace)",
	Remedy:     "remove the edges to Services there",
	Does:       "read Service backends in",
}, {
	Policy: "netconform-reachabilitytest-reads-networkpolicies",
	Why: `The manager predicts each edge from the NetworkPolicies of its source's and destination's
# namespaces, and names them in the test's status and events. This policy admits a test only
# if its author may list networkpolicies in each namespace its edges come from or go to.`,
	Group: "networking.k8s.io", Resource: "networkpolicies", Verb: "list", Named: "networkpolicies.networking.k8s.io",
	Namespaces: sources + ` + ` + podTargets + ` +
        ` + serviceNames,
	Where:  "whose NetworkPolicies the predictions of this ReachabilityTest would name (spec.edges[].from.namespace, spec.edges[].to.pods.namespace, spec.edges[].to.service.namespace)",
	Remedy: "remove the edges from or to there",
	Does:   "read NetworkPolicies in",
}}

const header = `# generated by hack/gen-admission; do not edit
#
# A test must never let its author do more than they could do themselves: each policy below
# admits a ReachabilityTest only if its author has one right (create pods, or read what the
# manager reports) in every namespace where the test uses it.
#
# Each authorizer check costs 350000 of the API server's CEL budget (10 million per policy
# and request, 1 million per expression), so each right has its own policy: its namespaces
# are deduplicated and the first {{.Max}} are checked one by one; an author who has the right
# in every namespace (a ClusterRoleBinding) is admitted after one check, however many
# namespaces the test has, and a test that needs a right nowhere needs no check for it.
#
`

const policy = `# {{.R.Why}}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {{.R.Policy}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ["netconform.io"]
        apiVersions: ["*"]
        operations: ["CREATE", "UPDATE"]
        resources: ["reachabilitytests"]
  # An update that leaves the spec alone asks for nothing new: the garbage collector
  # removing a finalizer, or a label added by a CD tool, must not need these rights.
  matchConditions:
    - name: spec-created-or-changed
      expression: request.operation == 'CREATE' || object.spec != oldObject.spec
  variables:
    # Every namespace where the test needs the right, with repeats.
    - name: namespaces
      expression: >-
        {{.R.Namespaces}}
    - name: clusterWide
      expression: {{template "check" .R}}.check('{{.R.Verb}}').allowed()
    # ns0 to ns{{.Last}} are the first {{.Max}} distinct namespaces ('' when there are fewer);
    # restN holds the namespaces left after removing ns0 to ns(N-1).
    - name: rest0
      expression: variables.namespaces
{{- range .Indexes}}
    - name: ns{{.}}
      expression: "size(variables.rest{{.}}) > 0 ? variables.rest{{.}}[0] : ''"
    - name: rest{{inc .}}
      expression: variables.rest{{.}}.filter(n, n != variables.ns{{.}})
{{- end}}
  validations:
{{- $r := .R}}{{range .Indexes}}
    - expression: >-
        variables.ns{{.}} == '' || variables.clusterWide ||
        {{template "check" $r}}.namespace(variables.ns{{.}}).check('{{$r.Verb}}').allowed()
      messageExpression: >-
        request.userInfo.username + ' may not {{$r.Verb}} {{$r.Named}} in namespace ' + variables.ns{{.}} +
        ', {{$r.Where}}:' +
        ' get the right to {{$r.Verb}} {{$r.Named}} in ' + variables.ns{{.}} + ' (a Role granting {{$r.Named}}: {{$r.Verb}}), or {{$r.Remedy}}'
      reason: Forbidden
{{- end}}
    - expression: size(variables.rest{{.Max}}) == 0 || variables.clusterWide
      messageExpression: >-
        'this ReachabilityTest would {{.R.Does}} more than {{.Max}} namespaces, and ' + request.userInfo.username +
        ' may not {{.R.Verb}} {{.R.Named}} in every namespace: split it into tests that each {{.R.Does}} at most {{.Max}} namespaces,' +
        ' or have it created by someone who may {{.R.Verb}} {{.R.Named}} cluster-wide'
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{.R.Policy}}
spec:
  policyName: {{.R.Policy}}
  validationActions: ["Deny"]
`

const check = `{{define "check"}}authorizer.group('{{.Group}}').resource('{{.Resource}}'){{end}}`

func main() {
	out := flag.String("out", "config/admission/reachabilitytest-author.yaml", "policies to write")
	flag.Parse()
	manifest, err := render()
	if err == nil {
		err = os.WriteFile(*out, manifest, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-admission:", err)
		os.Exit(1)
	}
}

// render writes the header and one policy with its binding per right.
func render() ([]byte, error) {
	funcs := template.FuncMap{"inc": func(i int) int { return i + 1 }}
	t, err := template.New("policy").Funcs(funcs).Parse(policy)
	if err == nil {
		_, err = t.Parse(check)
	}
	if err != nil {
		return nil, err
	}
	h := template.Must(template.New("header").Parse(header))
	indexes := make([]int, maxNamespaces)
	for i := range indexes {
		indexes[i] = i
	}
	var b bytes.Buffer
	if err := h.Execute(&b, map[string]int{"Max": maxNamespaces}); err != nil {
		return nil, err
	}
	for i, r := range rights {
		if strings.Contains(r.Where+r.Remedy+r.Does, "'") {
			return nil, fmt.Errorf("%s: a quote in a message would end its CEL string", r.Policy)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		data := map[string]any{"R": r, "Max": maxNamespaces, "Last": maxNamespaces - 1, "Indexes": indexes}
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Policy, err)
		}
	}
	return b.Bytes(), nil
}
