package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/netpol"
	"github.com/netconform/netconform/internal/prediction"
)

const (
	fromForm = "NAMESPACE or NAMESPACE/key=value,key=value, such as shop/app=web"
	toForm   = "svc/NAMESPACE/NAME:PORT, pod/NAMESPACE/NAME:PORT or ip/ADDRESS:PORT, such as svc/shop/db:5432"
)

// explainQuery is one connection to explain: a source identity to a destination port.
type explainQuery struct {
	from     v1alpha1.Source
	kind     string // svc, pod or ip
	ns, name string // svc and pod
	ip       string // ip
	port     int32
	protocol corev1.Protocol
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	var from, to, protocol, kubeconfig, kubeContext string
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: netconform explain --from NS[/k=v,...] --to svc/NS/NAME:PORT|pod/NS/NAME:PORT|ip/ADDR:PORT [--protocol TCP|UDP] [--kubeconfig PATH] [--context NAME]")
		fmt.Fprintln(stderr, "\nSays whether the cluster's NetworkPolicies allow the connection, and why, without sending a packet.")
		fmt.Fprintln(stderr, "Exit status: 0 allowed, 1 denied, 2 bad input or no cluster.")
		fs.PrintDefaults()
	}
	fs.StringVar(&from, "from", "", "the source: a pod of namespace NS with these labels ("+fromForm+")")
	fs.StringVar(&to, "to", "", "the destination ("+toForm+")")
	fs.StringVar(&protocol, "protocol", "TCP", "TCP or UDP")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	fs.StringVar(&kubeContext, "context", "", "the kubeconfig context to use")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "netconform explain: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q: give the connection with --from and --to", fs.Arg(0)))
	}
	q, err := parseExplain(from, to, protocol)
	if err != nil {
		return fail(err)
	}
	r, err := newReader(kubeconfig, kubeContext)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	allowed, lines, err := explain(ctx, r, q)
	if err != nil {
		return fail(err)
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if !allowed {
		return ExitFail
	}
	return ExitOK
}

func parseExplain(from, to, protocol string) (explainQuery, error) {
	var q explainQuery
	var err error
	if q.from, err = parseFrom(from); err != nil {
		return q, err
	}
	if err := q.parseTo(to); err != nil {
		return q, err
	}
	switch p := corev1.Protocol(strings.ToUpper(protocol)); p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP:
		q.protocol = p
	default:
		return q, fmt.Errorf("--protocol %q: use TCP or UDP", protocol)
	}
	return q, nil
}

func parseFrom(s string) (v1alpha1.Source, error) {
	var src v1alpha1.Source
	if s == "" {
		return src, fmt.Errorf("--from is required: %s", fromForm)
	}
	ns, labels, _ := strings.Cut(s, "/")
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return src, fmt.Errorf("--from %q: %q is not a namespace name (%s); want %s", s, ns, strings.Join(errs, "; "), fromForm)
	}
	src.Namespace = ns
	if labels == "" {
		return src, nil
	}
	src.PodLabels = map[string]string{}
	for kv := range strings.SplitSeq(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return src, fmt.Errorf("--from %q: %q is not key=value; want %s", s, kv, fromForm)
		}
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return src, fmt.Errorf("--from %q: label %q: %s", s, kv, strings.Join(errs, "; "))
		}
		if _, dup := src.PodLabels[k]; dup {
			return src, fmt.Errorf("--from %q: label %q is given twice", s, k)
		}
		src.PodLabels[k] = v
	}
	return src, nil
}

func (q *explainQuery) parseTo(s string) error {
	if s == "" {
		return fmt.Errorf("--to is required: %s", toForm)
	}
	bad := func(why string) error { return fmt.Errorf("--to %q: %s; want %s", s, why, toForm) }
	kind, rest, _ := strings.Cut(s, "/")
	var hostPort string
	switch kind {
	case "svc", "pod":
		ns, nameport, ok := strings.Cut(rest, "/")
		if !ok {
			return bad("no NAMESPACE/NAME")
		}
		name, _, _ := strings.Cut(nameport, ":")
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return bad(fmt.Sprintf("%q is not a namespace name", ns))
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return bad(fmt.Sprintf("%q is not a %s name", name, kind))
		}
		q.ns, q.name, hostPort = ns, name, nameport
	case "ip":
		hostPort = rest
	default:
		return bad(fmt.Sprintf("unknown kind %q", kind))
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return bad("no :PORT (an IPv6 address goes in brackets, ip/[fd00::1]:80)")
	}
	if kind == "ip" {
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return bad(fmt.Sprintf("%q is not an IP address", host))
		}
		q.ip = addr.String()
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
	}
	q.kind, q.port = kind, int32(n)
	return nil
}

// explain judges the query against the cluster's policies: whether it is allowed, and
// the lines to print (the verdict, the reasons, the caveats).
func explain(ctx context.Context, r client.Reader, q explainQuery) (bool, []string, error) {
	edges := []v1alpha1.Edge{{From: q.from}}
	switch q.kind {
	case "svc":
		edges[0].To.Service = &v1alpha1.ServiceDestination{Namespace: q.ns, Name: q.name}
	case "pod":
		edges[0].To.Pods = &v1alpha1.PodsDestination{Namespace: q.ns}
	case "ip":
		// The address may be a pod's: read the namespaces of the pods that have it.
		nss, err := namespacesWithIP(ctx, r, q.ip)
		if err != nil {
			return false, nil, err
		}
		for _, ns := range nss {
			edges = append(edges, v1alpha1.Edge{From: q.from, To: v1alpha1.Destination{Pods: &v1alpha1.PodsDestination{Namespace: ns}}})
		}
	}
	c, err := prediction.Snapshot(ctx, r, edges)
	if err != nil {
		return false, nil, fmt.Errorf("reading the cluster: %w", err)
	}
	if !hasNamespace(c, q.from.Namespace) {
		return false, nil, fmt.Errorf("--from: namespace %s does not exist in the cluster", q.from.Namespace)
	}
	// A name no real pod can have, so the source is never taken for the destination.
	src := netpol.PodPeer(prediction.Source(q.from, "["+labelString(q.from.PodLabels)+"]", ""))
	var decisions []netpol.Decision
	var notes []string
	switch q.kind {
	case "svc":
		decisions, err = c.EvaluateService(src, q.ns, q.name, q.port, q.protocol)
		if err != nil {
			return false, nil, fmt.Errorf("--to: %w", err)
		}
		notes = serviceNotes(c, src, decisions)
	case "pod":
		i := slices.IndexFunc(c.Pods, func(p corev1.Pod) bool { return p.Namespace == q.ns && p.Name == q.name })
		if i < 0 {
			return false, nil, fmt.Errorf("--to: pod %s/%s not found", q.ns, q.name)
		}
		decisions = []netpol.Decision{c.Evaluate(netpol.Connection{From: src, To: netpol.PodPeer(&c.Pods[i]), Port: q.port, Protocol: q.protocol})}
	case "ip":
		decisions = []netpol.Decision{c.Evaluate(netpol.Connection{From: src, To: netpol.AddressPeer(q.ip), Port: q.port, Protocol: q.protocol})}
	}
	allowed := !slices.ContainsFunc(decisions, func(d netpol.Decision) bool { return !d.Allowed })
	lines := []string{"DENIED"}
	if allowed {
		lines[0] = "ALLOWED"
	}
	for _, d := range decisions {
		lines = append(lines, d.Reasons...)
	}
	for _, d := range decisions {
		for _, c := range d.Caveats {
			lines = append(lines, "caveat: "+c)
		}
	}
	for _, n := range notes {
		lines = append(lines, "caveat: "+n)
	}
	return allowed, lines, nil
}

// serviceNotes: the backends of a Service that disagree, and a source that may not look
// the Service's name up.
func serviceNotes(c *netpol.Cluster, src netpol.Peer, decisions []netpol.Decision) []string {
	var notes []string
	if slices.ContainsFunc(decisions, func(d netpol.Decision) bool { return d.Allowed != decisions[0].Allowed }) {
		notes = append(notes, "the Service's backends get different verdicts: whether a connection succeeds depends on the backend it reaches")
	}
	dns, err := prediction.DNSLookup(c, src)
	if err != nil {
		return notes
	}
	for _, d := range dns {
		if !d.Allowed {
			return append(notes, fmt.Sprintf("looking the Service's name up fails, so only its cluster IP can be reached: %s", d.Reasons[0]))
		}
	}
	return notes
}

// namespacesWithIP lists the namespaces of the pods that have the address.
func namespacesWithIP(ctx context.Context, r client.Reader, ip string) ([]string, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods); err != nil {
		return nil, fmt.Errorf("reading the cluster's pods: %w", err)
	}
	var out []string
	for _, p := range pods.Items {
		ips := []string{p.Status.PodIP}
		for _, pi := range p.Status.PodIPs {
			ips = append(ips, pi.IP)
		}
		if slices.ContainsFunc(ips, func(s string) bool { return sameIP(s, ip) }) && !slices.Contains(out, p.Namespace) {
			out = append(out, p.Namespace)
		}
	}
	return out, nil
}

func sameIP(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	return errX == nil && errY == nil && x.Unmap() == y.Unmap()
}

// labelString is labels as k=v,k=v sorted by key, or "no labels".
func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "no labels"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}
