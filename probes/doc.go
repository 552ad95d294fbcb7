// Package probes holds everything about a probe that needs no API client: planning an
// edge's checks per source identity, chunking checks into probe pods, the probe pod spec,
// the checks a pod carries and the codec for its results, the evidence that a destination
// listens, and the verdicts that compare observations with expectations. Lint keeps it
// free of API clients: the controller reads the cluster and passes in what it needs.
package probes
