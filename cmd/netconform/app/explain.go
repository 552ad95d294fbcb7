package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/internal/explain"
	"github.com/netconform/netconform/internal/policykinds"
)

const (
	fromForm = "NAMESPACE, NAMESPACE/key=value,key=value or node/NODENAME, such as shop/app=web"
	toForm   = "svc/NAMESPACE/NAME:PORT, pod/NAMESPACE/NAME:PORT or ip/ADDRESS:PORT, such as svc/shop/db:5432"
)

type explainFlags struct {
	from, to, protocol, output string
	policies                   []string
	cluster                    *genericclioptions.ConfigFlags
}

func newExplainCommand(code *int) *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain --from NS[/k=v,...]|node/NODE --to svc/NS/NAME:PORT|pod/NS/NAME:PORT|ip/ADDR:PORT",
		Short: "Say whether the cluster's NetworkPolicies allow a connection, and why, without sending a packet",
		Long: "Says whether the cluster's NetworkPolicies allow the connection, and why, without sending a packet.\n" +
			"With --policies, answers as if those policies were added to the cluster's, and says whether that changes\n" +
			"the answer; nothing is applied. Exit status: 0 allowed, 1 denied or undecided, 2 bad input or no cluster.",
		Example: "  netconform explain --from bookstore/app=storefront --to svc/bookstore/postgres:5432\n" +
			"  netconform explain --from bookstore/app=storefront --to svc/bookstore/postgres:5432 -o json",
		Args: noArgs("give the connection with --from and --to"),
		Run:  body(code, f.run),
	}
	fs := cmd.Flags()
	fs.StringVar(&f.from, "from", "", "the source: a pod of namespace NS with these labels ("+fromForm+")")
	fs.StringVar(&f.to, "to", "", "the destination ("+toForm+")")
	fs.StringVar(&f.protocol, "protocol", "TCP", "TCP or UDP")
	fs.StringArrayVar(&f.policies, "policies", nil, "a file, a directory or - for stdin, holding policies to add to the cluster's (each replacing the one of the same namespace and name) before answering; nothing is applied (repeatable)")
	fs.StringVarP(&f.output, "output", "o", "table", "how to print the answer: "+strings.Join(answerFormats, ", "))
	f.cluster = clusterFlags(fs, false) // --from and --to name their namespaces
	registerOutputCompletion(cmd, answerFormats)
	return cmd
}

func (f *explainFlags) run(cmd *cobra.Command, _ []string) int {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "netconform explain: %v\n", err)
		return ExitUsage
	}
	if err := checkOutput(f.output, answerFormats); err != nil {
		return fail(err)
	}
	q, err := parseExplain(f.from, f.to, f.protocol)
	if err != nil {
		return fail(err)
	}
	r, kinds, err := newReader(f.cluster)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	doc, err := explainWhatIf(ctx, r, kinds, q, f.policies)
	if err != nil {
		return fail(err)
	}
	doc.From, doc.To, doc.Protocol = f.from, f.to, string(q.Protocol)
	if err := doc.write(stdout, f.output); err != nil {
		return fail(err)
	}
	if !doc.Allowed {
		return ExitFail
	}
	return ExitOK
}

// explainWhatIf answers the query on the cluster, or, with policies, on the cluster with
// the policies added, saying whether they change the answer.
func explainWhatIf(ctx context.Context, r client.Reader, kinds policykinds.Source, q explain.Query, policies []string) (answerDocument, error) {
	if len(policies) == 0 {
		answer, err := explain.Connection(ctx, r, kinds, q)
		return newAnswerDocument(answer), err
	}
	add, err := readPolicies(policies)
	if err != nil {
		return answerDocument{}, err
	}
	before, err := explain.Connection(ctx, r, kinds, q)
	if err != nil {
		return answerDocument{}, err
	}
	after, err := explain.Connection(ctx, add.Reader(r), kinds, q)
	if err != nil {
		return answerDocument{}, err
	}
	doc := newAnswerDocument(after)
	doc.WhatIf = &whatIf{
		PoliciesAdded: len(add.NetworkPolicies) + len(add.ClusterNetworkPolicies),
		Before:        before.Lines()[0], After: after.Lines()[0], Changed: before.Allowed != after.Allowed,
	}
	return doc, nil
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
