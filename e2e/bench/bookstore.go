//go:build bench

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netconform/netconform/api/v1alpha1"
	"github.com/netconform/netconform/e2e/bench/figures"
)

const bookstoreSample = "config/samples/bookstore"

// sampleNamespaces are renamed bench-*, everywhere they appear, so the benchmark
// stays clear of a Bookstore that `make demo` left.
var sampleNamespaces = regexp.MustCompile(`\b(bookstore|ingress-nginx)\b`)

// bookstore deploys the sample and times its ReachabilityTest from apply to Completed.
func (b *bench) bookstore() error {
	objs, err := b.sampleObjects("namespaces.yaml", "workloads.yaml", "policies.yaml")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			o.SetLabels(mergeLabels(o.GetLabels(), map[string]string{benchLabel: "true"}))
		}
		if err := b.create(o); err != nil {
			return err
		}
	}
	if err := b.waitDeployments("bench-bookstore", "bench-ingress-nginx"); err != nil {
		return err
	}
	raw, err := b.sample("reachabilitytest.yaml")
	if err != nil {
		return err
	}
	var test v1alpha1.ReachabilityTest
	if err := yaml.UnmarshalStrict(raw, &test); err != nil {
		return fmt.Errorf("%s/reachabilitytest.yaml: %w", bookstoreSample, err)
	}
	var runs []float64
	for rep := range b.opts.reps {
		if err := b.deleteTests(test.Name); err != nil {
			return err
		}
		took, got, err := b.runTest(test.DeepCopy())
		if err != nil {
			return err
		}
		b.checkPassed(got)
		b.logf("bookstore rep %d: %s (%d edges)", rep+1, seconds(took), len(test.Spec.Edges))
		runs = append(runs, took.Seconds())
	}
	b.report.Add(figures.Figure{Key: "bookstore_seconds", Label: "Bookstore: apply to Completed", Unit: "s", Samples: runs, Target: figures.Under(6)})
	return b.deleteTests(test.Name)
}

// sample reads a file of the Bookstore sample, in the benchmark's namespaces and image.
func (b *bench) sample(name string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(bookstoreSample, name))
	if err != nil {
		return nil, fmt.Errorf("reading the sample (run from the repository's root): %w", err)
	}
	raw = sampleNamespaces.ReplaceAll(raw, []byte("bench-$1"))
	return bytes.ReplaceAll(raw, []byte("ghcr.io/netconform/netconform:latest"), []byte(b.opts.image)), nil
}

func (b *bench) sampleObjects(names ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, name := range names {
		raw, err := b.sample(name)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			o := &unstructured.Unstructured{}
			err := dec.Decode(&o.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", bookstoreSample, name, err)
			}
			if len(o.Object) > 0 {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func (b *bench) waitDeployments(namespaces ...string) error {
	return b.waitFor("the Bookstore's Deployments to be available", func(ctx context.Context) (bool, string, error) {
		var waiting []string
		for _, ns := range namespaces {
			var deps appsv1.DeploymentList
			if err := b.k8s.List(ctx, &deps, client.InNamespace(ns)); err != nil {
				return false, "", err
			}
			for _, d := range deps.Items {
				if d.Status.AvailableReplicas < 1 {
					waiting = append(waiting, ns+"/"+d.Name)
				}
			}
		}
		return len(waiting) == 0, "not available: " + strings.Join(waiting, " "), nil
	})
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
