package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ReachabilityTestSpec declares the edges that must be allowed and denied.
// +kubebuilder:validation:XValidation:rule="has(self.edges) || has(self.canary)",message="a test needs edges (1 to 2000) or a canary: add spec.edges or spec.canary"
type ReachabilityTestSpec struct {
	// edges are the connections to check, each with its expected outcome.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2000
	// +optional
	Edges []Edge `json:"edges,omitempty"`

	// canary checks, with pods and policies of its own, that the dataplane enforces
	// NetworkPolicy at all, in both directions, and how fast it applies a change.
	// +optional
	Canary *CanarySpec `json:"canary,omitempty"`

	// probeTimeoutSeconds bounds each connection attempt and DNS look-up.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60
	// +kubebuilder:default=2
	// +optional
	ProbeTimeoutSeconds int32 `json:"probeTimeoutSeconds,omitempty"`

	// attempts is how often a check is tried while what it sees differs from what is
	// expected, to ride out policy propagation.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +kubebuilder:default=3
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// probePod adjusts the probe pods the controller starts.
	// +optional
	ProbePod *ProbePodSpec `json:"probePod,omitempty"`

	// schedule runs the test again: five cron fields such as "0 3 * * *", a descriptor
	// such as "@hourly", or an interval such as "@every 10m", at least a minute apart.
	// Empty: one run per generation. The CEL rules catch what a pattern can see; the
	// offline validator and the reconciler read it with cron and refuse the rest.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule=`!self.startsWith('@every ') || self.matches('^@every ([0-9]{1,5}([.][0-9]{1,9})?(ns|us|µs|ms|s|m|h))+$')`,message="an @every schedule takes a duration such as 10m or 1h30m: numbers of at most 5 digits, each followed by h, m, s, ms, us or ns"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^@every ([0-9]{1,5}([.][0-9]{1,9})?(ns|us|µs|ms|s|m|h))+$') || duration(self.substring(7)) >= duration('1m')`,message="schedule fires more often than the minimum interval of 1m: use @every 1m or longer"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('^[^ \t]+[ \t]+[^ \t]+[ \t]+0*3[01][ \t]+0*2[ \t]+[*?]$') && !self.matches('^[^ \t]+[ \t]+[^ \t]+[ \t]+0*31[ \t]+0*(4|6|9|11)[ \t]+[*?]$')`,message="schedule never fires: February has no day 30 or 31, and April, June, September and November no day 31: choose a day every chosen month has, such as 0 0 28 2 *"
	// +kubebuilder:validation:Pattern=`^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every [0-9]+[0-9a-zµ.]*|(\S+\s+){4}\S+)$`
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// suspend stops new runs, scheduled or not; a run in progress finishes.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// rerunOn runs the test again, besides its schedule, when something that could change
	// its edges changes: PolicyChange (a NetworkPolicy of the edges' namespaces created,
	// changed or deleted) and LabelChange (the labels of an edge's namespace, or of a
	// destination pod, changed; a destination pod added or removed). The policies'
	// prediction is updated at once (a PredictionChanged event); the re-run follows, no
	// sooner than the manager's minimum interval after the last run. Empty (the
	// default): runs follow the schedule and the spec only.
	// +listType=set
	// +kubebuilder:validation:MaxItems=2
	// +optional
	RerunOn []RerunTrigger `json:"rerunOn,omitempty"`
}

// RerunTrigger is a kind of change that re-runs a test.
// +kubebuilder:validation:Enum=PolicyChange;LabelChange
type RerunTrigger string

// Rerun triggers.
const (
	// RerunOnPolicyChange: a NetworkPolicy of the edges' namespaces was created, changed
	// or deleted.
	RerunOnPolicyChange RerunTrigger = "PolicyChange"
	// RerunOnLabelChange: an edge's namespace, or a destination pod, changed labels; a
	// destination pod came or went.
	RerunOnLabelChange RerunTrigger = "LabelChange"
)

// Edge is one connection from a source identity to a destination.
// +kubebuilder:validation:XValidation:rule="!has(self.to.dns) || !has(self.protocol)",message="a dns destination takes no protocol: remove protocol from this edge"
type Edge struct {
	// name identifies the edge in results, events and metrics.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// from is the source identity the probe pod takes on.
	// +required
	From Source `json:"from"`

	// to is the destination: exactly one of service, pods, host or dns.
	// +required
	To Destination `json:"to"`

	// protocol is TCP (the default) or UDP. UDP counts as connected only when a reply
	// comes back, so the destination must answer (netconform serve echoes).
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`

	// expect is Allow or Deny.
	// +required
	Expect Expectation `json:"expect"`
}

// Source is the identity a probe pod takes on so that policies select it as they
// would select the real workload.
// +kubebuilder:validation:XValidation:rule="!has(self.podLabels) || self.podLabels.all(k, !k.startsWith('netconform.io/'))",message="podLabels must not use the netconform.io/ prefix: it is reserved for labels netconform adds"
type Source struct {
	// namespace the probe pod runs in.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Namespace string `json:"namespace"`

	// podLabels are the labels the probe pod carries; empty for an unlabelled pod. Keys
	// are label keys and values label values, as Kubernetes defines them (the values'
	// length and pattern are added to the CRD by hack/crd-bounds).
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="podLabels keys must be label keys: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as app or example.com/tier"
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// serviceAccountName the probe pod runs as (default: the namespace's default); a
	// DNS subdomain.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == '' || !format.dns1123Subdomain().validate(self).hasValue()",message="serviceAccountName must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, such as web or web.v2"
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// nodes, when set, checks the edge from each node it selects: one probe pod per
	// node, pinned to it, and a verdict per node. The edge passes only if it passes on
	// every node. Unset: one probe pod, wherever the scheduler puts it.
	// +optional
	Nodes *NodeSelection `json:"nodes,omitempty"`
}

// NodeSelection picks the nodes an edge is checked from: all of them, or those whose
// labels match. Only nodes a probe pod may run on count (spec.probePod's nodeSelector
// and tolerations apply); a cordoned or NotReady node counts, and gives an Error.
// +kubebuilder:validation:XValidation:rule="(has(self.all) && self.all) != has(self.selector)",message="from.nodes takes exactly one of all: true or selector: set all: true for every node, or selector.matchLabels for some"
type NodeSelection struct {
	// all: true checks the edge from every node.
	// +optional
	All bool `json:"all,omitempty"`

	// selector checks the edge from the nodes whose labels match. Its keys are bounded
	// by the manager's --allowed-node-selector-keys, as spec.probePod.nodeSelector is.
	// +optional
	Selector *NodeLabelSelector `json:"selector,omitempty"`
}

// NodeLabelSelector selects nodes by their labels.
type NodeLabelSelector struct {
	// matchLabels select the nodes that carry them all. Keys are label keys and values
	// label values (the values' bounds: hack/crd-bounds).
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="matchLabels keys must be label keys: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as pool or topology.kubernetes.io/zone"
	// +required
	MatchLabels map[string]string `json:"matchLabels"`
}

// ReasonNoMatchingNodes is the reason when an edge's from.nodes selects no node a probe
// pod may run on, so no run starts until the spec or the nodes change. It is also the
// reason of the warning event.
const ReasonNoMatchingNodes = "NoMatchingNodes"

// Destination is exactly one kind of target.
// +kubebuilder:validation:XValidation:rule="[has(self.service), has(self.pods), has(self.host), has(self.dns)].filter(x, x).size() == 1",message="to must set exactly one of service, pods, host or dns"
type Destination struct {
	// service probes the Service's DNS name, so DNS is part of the path.
	// +optional
	Service *ServiceDestination `json:"service,omitempty"`

	// pods probes every ready pod that matches.
	// +optional
	Pods *PodsDestination `json:"pods,omitempty"`

	// host probes a DNS name or IP address, for destinations off the cluster.
	// +optional
	Host *HostDestination `json:"host,omitempty"`

	// dns resolves a name through the cluster's DNS.
	// +optional
	DNS *DNSDestination `json:"dns,omitempty"`
}

// ServiceDestination is a Service reached through its DNS name.
type ServiceDestination struct {
	// name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// namespace of the Service.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Namespace string `json:"namespace"`

	// port is a Service port number or name.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 65535) : (size(self) <= 15 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.matches('[a-z]'))",message="port must be a number from 1 to 65535 or a port name (lowercase letters, digits and '-', at most 15 characters)"
	// +required
	Port intstr.IntOrString `json:"port"`
}

// PodsDestination is every ready pod matching the labels.
type PodsDestination struct {
	// namespace of the pods.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Namespace string `json:"namespace"`

	// podLabels select the pods; all must match. Keys are label keys and values label
	// values, as Kubernetes defines them (the values' bounds: hack/crd-bounds).
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="podLabels keys must be label keys: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as app or example.com/tier"
	// +required
	PodLabels map[string]string `json:"podLabels"`

	// port is a container port number or name.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 65535) : (size(self) <= 15 && self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self.matches('[a-z]'))",message="port must be a number from 1 to 65535 or a port name (lowercase letters, digits and '-', at most 15 characters)"
	// +required
	Port intstr.IntOrString `json:"port"`
}

// HostDestination is a DNS name or IP address with a port.
type HostDestination struct {
	// host is a DNS name or an IP address.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9:]([-A-Za-z0-9.:]*[A-Za-z0-9.])?$`
	// +required
	Host string `json:"host"`

	// port to connect to.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`
}

// DNSDestination is a name to resolve.
type DNSDestination struct {
	// name to resolve, such as kubernetes.default.svc.cluster.local.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*\.?$`
	// +required
	Name string `json:"name"`
}

// ProbePodSpec adjusts the probe pods.
type ProbePodSpec struct {
	// image names the probe image when the manager allows more than its own: it must be
	// the manager's --probe-image or one of its --allowed-probe-images, else the test is
	// NotAllowed and gets no pods. Empty: the manager's probe image.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// nodeSelector constrains the nodes probe pods run on; keys are label keys and values
	// label values (the values' bounds: hack/crd-bounds).
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="nodeSelector keys must be label keys: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as app or example.com/tier"
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the probe pods: each with a key that is a label key (or none, with
	// operator Exists), operator Exists or Equal, a value (a label value) only with Equal,
	// effect NoSchedule, PreferNoSchedule or NoExecute, and tolerationSeconds only with
	// NoExecute.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:XValidation:rule="!has(self.key) || self.key == '' || !format.qualifiedName().validate(self.key).hasValue()",fieldPath=`.key`,message="key must be a label key: a name of at most 63 letters, digits, '-', '_' or '.' that starts and ends with a letter or digit, optionally after a DNS subdomain prefix and '/', such as node-role.kubernetes.io/control-plane"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator in ['Exists', 'Equal']",fieldPath=`.operator`,message="operator must be Exists or Equal (the default)"
	// +kubebuilder:validation:items:XValidation:rule="(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",fieldPath=`.operator`,message="a toleration without a key must have operator Exists, which tolerates every taint: set key, or operator: Exists"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",fieldPath=`.value`,message="a toleration with operator Exists takes no value: remove value, or use operator Equal"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.value) || !format.labelValue().validate(self.value).hasValue()",fieldPath=`.value`,message="value must be a label value: empty, or at most 63 letters, digits, '-', '_' or '.' that start and end with a letter or digit"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.effect) || self.effect in ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']",fieldPath=`.effect`,message="effect must be NoSchedule, PreferNoSchedule or NoExecute, or empty for every effect"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",fieldPath=`.tolerationSeconds`,message="tolerationSeconds applies only to effect NoExecute: set effect: NoExecute, or remove tolerationSeconds"
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// resources of the probe container (default: small requests and limits); cpu and
	// memory may be neither negative nor requested above their limit.
	// +kubebuilder:validation:XValidation:rule="!has(self.requests) || ['cpu', 'memory'].all(r, !(r in self.requests) || !isQuantity(string(self.requests[r])) || !quantity(string(self.requests[r])).isLessThan(quantity('0')))",fieldPath=`.requests`,message="requests of cpu and memory must not be negative: give zero or more"
	// +kubebuilder:validation:XValidation:rule="!has(self.limits) || ['cpu', 'memory'].all(r, !(r in self.limits) || !isQuantity(string(self.limits[r])) || !quantity(string(self.limits[r])).isLessThan(quantity('0')))",fieldPath=`.limits`,message="limits of cpu and memory must not be negative: give zero or more"
	// +kubebuilder:validation:XValidation:rule="!has(self.requests) || !has(self.limits) || ['cpu', 'memory'].all(r, !(r in self.requests) || !(r in self.limits) || !isQuantity(string(self.requests[r])) || !isQuantity(string(self.limits[r])) || quantity(string(self.requests[r])).compareTo(quantity(string(self.limits[r]))) <= 0)",fieldPath=`.requests`,message="a request of cpu or memory must not exceed its limit: lower the request or raise the limit"
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// priorityClassName of the probe pods; a DNS subdomain.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == '' || !format.dns1123Subdomain().validate(self).hasValue()",message="priorityClassName must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, such as web or web.v2"
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// CanarySpec configures the enforcement canary.
type CanarySpec struct {
	// namespace the canary's pods and policies live in; its policies select only canary
	// pods. Default: the manager's namespace (netconform run: netconform-canary, created
	// on demand).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// timeoutSeconds bounds how long each phase waits for the dataplane to apply a policy
	// change before the canary concludes that it does not.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=300
	// +kubebuilder:default=15
	// +optional
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`

	// adminTier says whether the canary also checks the admin tier, ClusterNetworkPolicy
	// (policy.networking.k8s.io/v1beta1): WhenServed (the default) runs its phases where
	// the API is served and reports NotServed elsewhere; Skip never does.
	// +kubebuilder:default=WhenServed
	// +optional
	AdminTier AdminTierCheck `json:"adminTier,omitempty"`
}

// AdminTierCheck says whether the canary checks ClusterNetworkPolicy.
// +kubebuilder:validation:Enum=WhenServed;Skip
type AdminTierCheck string

// Admin-tier checks.
const (
	AdminTierWhenServed AdminTierCheck = "WhenServed"
	AdminTierSkip       AdminTierCheck = "Skip"
)

// Protocol is a transport protocol.
// +kubebuilder:validation:Enum=TCP;UDP
type Protocol string

// Protocols.
const (
	ProtocolTCP Protocol = "TCP"
	ProtocolUDP Protocol = "UDP"
)

// Expectation is what an edge must do.
// +kubebuilder:validation:Enum=Allow;Deny
type Expectation string

// Expectations.
const (
	ExpectAllow Expectation = "Allow"
	ExpectDeny  Expectation = "Deny"
)

// Observation is how a check ended.
// +kubebuilder:validation:Enum=Connected;Refused;Timeout;Unreachable;DNSFailure;Error
type Observation string

// Observations.
const (
	// ObservedConnected: a TCP handshake completed, a UDP reply came back, or a name resolved.
	ObservedConnected Observation = "Connected"
	// ObservedRefused: ECONNREFUSED, from a RST or an ICMP port-unreachable reject.
	ObservedRefused Observation = "Refused"
	// ObservedTimeout: nothing came back; the traffic was dropped.
	ObservedTimeout Observation = "Timeout"
	// ObservedUnreachable: EHOSTUNREACH, ENETUNREACH or ICMP admin-prohibited.
	ObservedUnreachable Observation = "Unreachable"
	// ObservedDNSFailure: the destination's name did not resolve.
	ObservedDNSFailure Observation = "DNSFailure"
	// ObservedError: the probe could not run.
	ObservedError Observation = "Error"
)

// Verdict compares an observation with the expectation.
// +kubebuilder:validation:Enum=Pass;Fail;Inconclusive
type Verdict string

// Verdicts.
const (
	VerdictPass         Verdict = "Pass"
	VerdictFail         Verdict = "Fail"
	VerdictInconclusive Verdict = "Inconclusive"
)

// Condition types.
const (
	// ConditionCompleted is True once a run for the current generation finished.
	ConditionCompleted = "Completed"
	// ConditionPassed is True when every edge of the last run passed, and the canary, if
	// any, found NetworkPolicy enforced.
	ConditionPassed = "Passed"
	// ConditionNetworkPolicyEnforced is the canary's finding.
	ConditionNetworkPolicyEnforced = "NetworkPolicyEnforced"
	// ConditionClusterNetworkPolicyEnforced is the canary's finding on the admin tier.
	ConditionClusterNetworkPolicyEnforced = "ClusterNetworkPolicyEnforced"
)

// Condition reasons.
const (
	ReasonRunning           = "Running"
	ReasonRunCompleted      = "RunCompleted"
	ReasonAllEdgesPassed    = "AllEdgesPassed"
	ReasonEdgesFailed       = "EdgesFailed"
	ReasonEdgesInconclusive = "EdgesInconclusive"
	ReasonNoRunYet          = "NoRunYet"
	ReasonInvalidSchedule   = "InvalidSchedule"
	// ReasonNotAllowed: the test asks for probe pods beyond the manager's configuration
	// (image, priority class, tolerations, resources or namespaces), so no run starts
	// until its spec changes. It is also the reason of the warning event.
	ReasonNotAllowed = "NotAllowed"
	// ReasonCanaryNotEnforced: the edges passed but the canary found NetworkPolicy not
	// (fully) enforced, so Deny verdicts cannot be trusted.
	ReasonCanaryNotEnforced = "CanaryNotEnforced"
)

// Reasons of the NetworkPolicyEnforced condition.
const (
	// ReasonEnforced: the dataplane enforces ingress and egress policy.
	ReasonEnforced = "Enforced"
	// ReasonNotEnforced: removing the allow did not deny the canary's traffic.
	ReasonNotEnforced = "NotEnforced"
	// ReasonIngressNotEnforced: an egress allow alone let the traffic in.
	ReasonIngressNotEnforced = "IngressNotEnforced"
	// ReasonEgressNotEnforced: an ingress allow alone let the traffic out.
	ReasonEgressNotEnforced = "EgressNotEnforced"
	// ReasonCanaryFailed: the canary could not run, so enforcement is unknown.
	ReasonCanaryFailed = "CanaryFailed"
	// ReasonPartiallyEnforced: some nodes enforce and others do not; the message names
	// the nodes that do not, and in which direction.
	ReasonPartiallyEnforced = "PartiallyEnforced"
)

// Reasons of the ClusterNetworkPolicyEnforced condition, besides Enforced, NotEnforced
// and CanaryFailed.
const (
	// ReasonAdminTierNotEnforced: a Baseline-tier Deny denied, an Admin-tier Deny did not.
	ReasonAdminTierNotEnforced = "AdminTierNotEnforced"
	// ReasonBaselineTierNotEnforced: an Admin-tier Deny denied, a Baseline-tier Deny did not.
	ReasonBaselineTierNotEnforced = "BaselineTierNotEnforced"
	// ReasonNotServed: the cluster does not serve ClusterNetworkPolicy v1beta1, so the
	// canary could not check it.
	ReasonNotServed = "NotServed"
)

// ConditionPredictionsComplete says whether the last run's predictions could read every
// policy kind that may affect its edges.
const ConditionPredictionsComplete = "PredictionsComplete"

// Reasons of the PredictionsComplete condition.
const (
	// ReasonAllPoliciesRead: the model read every policy kind the cluster holds.
	ReasonAllPoliciesRead = "AllPoliciesRead"
	// ReasonUnreadablePolicies: the cluster holds policy kinds the model cannot read (or
	// may not list); edges they could affect have no prediction. The message names them.
	ReasonUnreadablePolicies = "UnreadablePolicies"
)

// ReachabilityTestStatus is what the last run saw.
type ReachabilityTestStatus struct {
	// observedGeneration is the generation the last completed run checked.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Completed, Passed, PredictionsComplete and, with a canary,
	// NetworkPolicyEnforced and ClusterNetworkPolicyEnforced.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// summary counts the verdicts of the last run.
	// +optional
	Summary *Summary `json:"summary,omitempty"`

	// results hold one entry per edge of the last completed run.
	// +listType=map
	// +listMapKey=edge
	// +kubebuilder:validation:MaxItems=2000
	// +optional
	Results []EdgeResult `json:"results,omitempty"`

	// activeRun is the run in progress, if any.
	// +optional
	ActiveRun *Run `json:"activeRun,omitempty"`

	// lastRunStartTime is when the last completed run started.
	// +optional
	LastRunStartTime *metav1.Time `json:"lastRunStartTime,omitempty"`

	// lastRunCompletionTime is when the last run completed.
	// +optional
	LastRunCompletionTime *metav1.Time `json:"lastRunCompletionTime,omitempty"`

	// nextRunTime is when the next scheduled run starts.
	// +optional
	NextRunTime *metav1.Time `json:"nextRunTime,omitempty"`

	// canary is what the enforcement canary found in the last completed run.
	// +optional
	Canary *CanaryStatus `json:"canary,omitempty"`
}

// CanaryStatus is the enforcement canary's finding.
type CanaryStatus struct {
	// ingress says whether ingress policy is enforced.
	// +required
	Ingress Enforcement `json:"ingress"`

	// egress says whether egress policy is enforced.
	// +required
	Egress Enforcement `json:"egress"`

	// enforcementLatencyMilliseconds is how long the dataplane took from removing the
	// allow to the first probe it denied, measured by a client that was already probing
	// every 50 ms.
	// +optional
	EnforcementLatencyMilliseconds *int32 `json:"enforcementLatencyMilliseconds,omitempty"`

	// phases are the canary's steps in order, with what each saw; on several nodes,
	// those of the client on the first node.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Phases []CanaryPhase `json:"phases,omitempty"`

	// adminTier is what the canary found about ClusterNetworkPolicy, when it checked.
	// +optional
	AdminTier *AdminTierStatus `json:"adminTier,omitempty"`

	// nodes is what the canary found on each schedulable node it checked; ingress and
	// egress above are Enforced only where every node enforces them. Empty when the
	// canary could not list the nodes and ran unpinned.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Nodes []CanaryNode `json:"nodes,omitempty"`
}

// CanaryNode is the canary's finding on one node. The canary's clients probe the
// servers in a ring (the client on each node probes the server on the next), so a node's
// egress is seen by its client and its ingress by its server.
type CanaryNode struct {
	// name is the node's name.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// ingress says whether the node enforces ingress policy on its pods.
	// +required
	Ingress Enforcement `json:"ingress"`

	// egress says whether the node enforces egress policy on its pods.
	// +required
	Egress Enforcement `json:"egress"`

	// enforcementLatencyMilliseconds is how long the deny took to stop the traffic of
	// the client on this node.
	// +optional
	EnforcementLatencyMilliseconds *int32 `json:"enforcementLatencyMilliseconds,omitempty"`

	// message says why the node's finding is Unknown, when it is.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
}

// AdminTierStatus is the canary's finding on ClusterNetworkPolicy.
type AdminTierStatus struct {
	// admin says whether an Admin-tier Deny stops traffic that a NetworkPolicy allows.
	// +required
	Admin Enforcement `json:"admin"`

	// baseline says whether a Baseline-tier Deny stops traffic that no NetworkPolicy
	// selects.
	// +required
	Baseline Enforcement `json:"baseline"`

	// enforcementLatencyMilliseconds is how long the dataplane took from creating the
	// Admin-tier Deny to the first probe it denied.
	// +optional
	EnforcementLatencyMilliseconds *int32 `json:"enforcementLatencyMilliseconds,omitempty"`
}

// Enforcement says whether a direction of policy is enforced.
// +kubebuilder:validation:Enum=Enforced;NotEnforced;Unknown
type Enforcement string

// Enforcement states.
const (
	Enforced    Enforcement = "Enforced"
	NotEnforced Enforcement = "NotEnforced"
	Unknown     Enforcement = "Unknown"
)

// CanaryPhase is one step of the canary: a policy set and what the client saw under it.
type CanaryPhase struct {
	// name: Allowed (both allows), Denied (no allow), IngressAllowOnly, EgressAllowOnly,
	// AllowedAgain (both allows back: the server still serves), and where ClusterNetworkPolicy is checked AdminTierDeny (both allows under an
	// Admin-tier Deny) and BaselineTierDeny (no NetworkPolicy, a Baseline-tier Deny).
	// +kubebuilder:validation:MaxLength=32
	// +required
	Name string `json:"name"`

	// expected is what an enforcing dataplane does in this phase.
	// +required
	Expected Expectation `json:"expected"`

	// observed is what the canary client saw: Connected, or how it was denied.
	// +optional
	Observed Observation `json:"observed,omitempty"`

	// message says what the phase showed.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Message string `json:"message,omitempty"`
}

// Run identifies a run in progress.
type Run struct {
	// id labels the run's probe pods.
	// +kubebuilder:validation:MaxLength=63
	// +required
	ID string `json:"id"`

	// generation of the spec the run checks.
	// +required
	Generation int64 `json:"generation"`

	// startTime of the run.
	// +required
	StartTime metav1.Time `json:"startTime"`
}

// Summary counts verdicts.
type Summary struct {
	// edges checked.
	// +required
	Edges int32 `json:"edges"`
	// passed edges.
	// +required
	Passed int32 `json:"passed"`
	// failed edges.
	// +required
	Failed int32 `json:"failed"`
	// inconclusive edges.
	// +required
	Inconclusive int32 `json:"inconclusive"`
}

// EdgeResult is the outcome of one edge.
type EdgeResult struct {
	// edge is the edge's name.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Edge string `json:"edge"`

	// expected is what the edge declared.
	// +required
	Expected Expectation `json:"expected"`

	// observed is how the deciding check ended.
	// +required
	Observed Observation `json:"observed"`

	// verdict compares observed with expected.
	// +required
	Verdict Verdict `json:"verdict"`

	// attempts the deciding check made.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// target is what was dialed, such as 10.96.0.12:8080/TCP.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Target string `json:"target,omitempty"`

	// latencyMilliseconds of the deciding check's last attempt.
	// +optional
	LatencyMilliseconds int32 `json:"latencyMilliseconds,omitempty"`

	// message explains the observation and the verdict.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// predicted is what the cluster's NetworkPolicies allow for this edge, read from the
	// policies without a packet; empty when they do not settle it.
	// +optional
	Predicted Expectation `json:"predicted,omitempty"`

	// diagnosis names what disagrees: PolicyMismatch (the policies do not implement the
	// declared intent) or DataplaneMismatch (the dataplane did not do what the policies say).
	// +optional
	Diagnosis Diagnosis `json:"diagnosis,omitempty"`

	// explanation says which policies and rules made the prediction.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Explanation string `json:"explanation,omitempty"`

	// nodes is how many nodes the edge was checked from, with from.nodes.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`

	// failingNodes names the nodes on which the edge did not pass (failed, or gave no
	// conclusive answer), with from.nodes; at most MaxFailingNodes, the message counts
	// them all.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	FailingNodes []string `json:"failingNodes,omitempty"`
}

// MaxFailingNodes bounds EdgeResult.FailingNodes, so a status stays small however many
// nodes fail.
const MaxFailingNodes = 16

// Diagnosis names the layer at fault when intent, policies and dataplane disagree.
// +kubebuilder:validation:Enum=PolicyMismatch;DataplaneMismatch
type Diagnosis string

// Diagnoses.
const (
	// DiagnosisPolicyMismatch: the policies do not implement the declared intent.
	DiagnosisPolicyMismatch Diagnosis = "PolicyMismatch"
	// DiagnosisDataplaneMismatch: the dataplane did not do what the policies say.
	DiagnosisDataplaneMismatch Diagnosis = "DataplaneMismatch"
)

// ReachabilityTest declares network edges that must be allowed or denied and reports
// what a live cluster really lets through.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rt,categories=netconform
// +kubebuilder:printcolumn:name="Passed",type=string,JSONPath=`.status.conditions[?(@.type=="Passed")].status`
// +kubebuilder:printcolumn:name="Edges",type=integer,JSONPath=`.status.summary.edges`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.summary.failed`
// +kubebuilder:printcolumn:name="Enforced",type=string,JSONPath=`.status.conditions[?(@.type=="NetworkPolicyEnforced")].reason`,priority=1
// +kubebuilder:printcolumn:name="Last run",type=date,JSONPath=`.status.lastRunCompletionTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReachabilityTest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the edges.
	// +required
	Spec ReachabilityTestSpec `json:"spec"`

	// status reports the last run.
	// +optional
	Status ReachabilityTestStatus `json:"status,omitempty"`
}

// ReachabilityTestList is a list of ReachabilityTests.
// +kubebuilder:object:root=true
type ReachabilityTestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReachabilityTest `json:"items"`
}
