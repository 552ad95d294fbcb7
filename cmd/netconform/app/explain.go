package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/explain"
	"github.com/netconform/netconform/internal/policykinds"
)

const (
	fromForm = "NAMESPACE, NAMESPACE/key=value,key=value or node/NODENAME, such as shop/app=web"
	toForm   = "svc/NAMESPACE/NAME:PORT, pod/NAMESPACE/NAME:PORT or ip/ADDRESS:PORT, such as svc/shop/db:5432"
)

func runExplain(args []string, stdout, stderr io.Writer) int {
	var from, to, protocol, kubeconfig, kubeContext string
	var policies stringList
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: netconform explain --from NS[/k=v,...]|node/NODE --to svc/NS/NAME:PORT|pod/NS/NAME:PORT|ip/ADDR:PORT [--protocol TCP|UDP] [--policies DIR] [--kubeconfig PATH] [--context NAME]")
		fmt.Fprintln(stderr, "\nSays whether the cluster's NetworkPolicies allow the connection, and why, without sending a packet.")
		fmt.Fprintln(stderr, "With --policies, answers as if those policies were added to the cluster's, and says whether that changes the answer; nothing is applied.")
		fmt.Fprintln(stderr, "Exit status: 0 allowed, 1 denied, 2 bad input or no cluster.")
		fs.PrintDefaults()
	}
	fs.StringVar(&from, "from", "", "the source: a pod of namespace NS with these labels ("+fromForm+")")
	fs.StringVar(&to, "to", "", "the destination ("+toForm+")")
	fs.StringVar(&protocol, "protocol", "TCP", "TCP or UDP")
	fs.Var(&policies, "policies", "a file, a directory or - for stdin, holding policies to add to the cluster's (each replacing the one of the same namespace and name) before answering; nothing is applied (repeatable)")
	bindClusterFlags(fs, &kubeconfig, &kubeContext)
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
	r, kinds, err := newReader(kubeconfig, kubeContext)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	answer, err := explainWhatIf(ctx, r, kinds, q, policies, stdout)
	if err != nil {
		return fail(err)
	}
	for _, l := range answer.Lines() {
		fmt.Fprintln(stdout, l)
	}
	if !answer.Allowed {
		return ExitFail
	}
	return ExitOK
}

// explainWhatIf answers the query on the cluster, or, with policies, on the cluster with
// the policies added, first saying whether they change the answer.
func explainWhatIf(ctx context.Context, r client.Reader, kinds policykinds.Source, q explain.Query, policies []string, stdout io.Writer) (explain.Answer, error) {
	if len(policies) == 0 {
		return explain.Connection(ctx, r, kinds, q)
	}
	add, err := readPolicies(policies)
	if err != nil {
		return explain.Answer{}, err
	}
	before, err := explain.Connection(ctx, r, kinds, q)
	if err != nil {
		return explain.Answer{}, err
	}
	after, err := explain.Connection(ctx, add.Reader(r), kinds, q)
	if err != nil {
		return explain.Answer{}, err
	}
	change := "unchanged"
	if before.Allowed != after.Allowed {
		change = "changed"
	}
	fmt.Fprintf(stdout, "What-if with %d policies added (nothing applied): %s before, %s after (%s)\n",
		len(add.NetworkPolicies)+len(add.ClusterNetworkPolicies), before.Lines()[0], after.Lines()[0], change)
	return after, nil
}

// parseExplain turns the flags into the query they give.
func parseExplain(from, to, protocol string) (explain.Query, error) {
	var q explain.Query
	var err error
	if q.FromNode, err = parseFromNode(from); err != nil {
		return q, err
	}
	if q.FromNode == "" { // a node source has no namespace
		if q.From, err = parseFrom(from); err != nil {
			return q, err
		}
	}
	if err := parseTo(&q, to); err != nil {
		return q, err
	}
	switch p := corev1.Protocol(strings.ToUpper(protocol)); p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP:
		q.Protocol = p
	default:
		return q, fmt.Errorf("--protocol %q: use TCP or UDP", protocol)
	}
	return q, nil
}

// parseFromNode reads --from node/NODENAME, "" for another form. A namespace called node
// with labels is no node: labels have "=", node names never do.
func parseFromNode(s string) (string, error) {
	name, ok := strings.CutPrefix(s, "node/")
	if !ok || strings.Contains(name, "=") {
		return "", nil
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("--from %q: %q is not a node name (%s); want %s", s, name, strings.Join(errs, "; "), fromForm)
	}
	return name, nil
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

// destinationKinds are the kinds of destination --to names, by the prefix it gives them.
var destinationKinds = map[string]explain.Kind{"svc": explain.Service, "pod": explain.Pod, "ip": explain.Address}

// parseTo sets the query's destination from --to.
func parseTo(q *explain.Query, s string) error {
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
		q.Namespace, q.Name, hostPort = ns, name, nameport
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
		q.IP = addr.String()
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return bad(fmt.Sprintf("port %q is not a number from 1 to 65535", port))
	}
	q.Kind, q.Port = destinationKinds[kind], int32(n)
	return nil
}
