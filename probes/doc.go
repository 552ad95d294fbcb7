// Package probes holds everything about a probe that needs no API client: planning probe
// pods from edges, the probe pod spec, the checks a pod carries and the codec for its
// results, and the verdicts that compare observations with expectations.
package probes
