# netconform. `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE ?= ghcr.io/netconform/netconform:$(VERSION)

# Tools and cluster binaries live in a cache outside the repository, keyed by version,
# so later runs on the same machine reuse them and a fresh machine builds them.
export NETCONFORM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/netconform
K8S_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.6.16
CONTROLLER_GEN_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v4.3.1
CONTROLLER_GEN := $(NETCONFORM_CACHE)/tools/controller-gen-$(CONTROLLER_GEN_VERSION)/controller-gen
GOLANGCI_LINT := $(NETCONFORM_CACHE)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
export K8S_VERSION ETCD_VERSION HELM_VERSION

LDFLAGS := -s -w -X github.com/netconform/netconform/internal/version.Version=$(VERSION)
CHART_GENERATED := $(addprefix charts/netconform/,templates/crd.yaml templates/rbac/manager-clusterrole.yaml templates/admission templates/prometheusrule.yaml files)
GENERATED := api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml config/prometheus/prometheusrule.yaml config/admission/reachabilitytest-author.yaml $(CHART_GENERATED)

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/netconform, and as links to it bin/kubectl-netconform (`kubectl netconform`) and bin/kubectl_complete-netconform (its shell completion)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/netconform ./cmd/netconform
	ln -f bin/netconform bin/kubectl-netconform
	ln -f bin/netconform bin/kubectl_complete-netconform

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD, the manager's ClusterRole, the PrometheusRule, the test authors' admission policies and the chart's copies of them
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	go run ./hack/crd-bounds
	$(CONTROLLER_GEN) rbac:roleName=netconform-manager paths=./controllers/... output:rbac:artifacts:config=config/rbac
	go run ./hack/gen-prometheus
	go run ./hack/gen-admission
	go run ./hack/gen-chart

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated code or manifests drift from the code
	@if ! git diff --quiet -- $(GENERATED) || [ -n "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" ]; then \
		git --no-pager diff --stat -- $(GENERATED); git status --short -- $(GENERATED); \
		echo "Generated files are out of date: run 'make generate manifests' and commit the result."; exit 1; fi

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e,bench ./...
	$(GOLANGCI_LINT) run --build-tags e2e,bench ./...

.PHONY: rules
rules: ## Check and unit-test the Prometheus alert rules with promtool
	hack/test-rules.sh

.PHONY: chart-check
chart-check: ## Lint the Helm chart (strict), render it with several values and compare it with config/default (part of make unit)
	KUBEBUILDER_ASSETS=$$(hack/k8s-binaries.sh kubectl) NETCONFORM_HELM=$$(hack/helm.sh) go test -count=1 ./charts/

.PHONY: envtest-assets
envtest-assets: ## Build etcd, kube-apiserver and kubectl for the controller tests
	@hack/k8s-binaries.sh etcd kube-apiserver kubectl >/dev/null

.PHONY: unit
unit: envtest-assets ## Run the unit and API-server tests with the race detector; no cluster needed
	hack/run-tests.sh -race

.PHONY: test
test: verify-generated lint rules release-check unit ## Run every test: generated code, lint, alert rules, unit and API-server (make unit), end-to-end
	e2e/run.sh

PROFILE ?= enforcing
# NODES: how many nodes cluster-up brings up; unset, as many as run, or 1.
NODES ?=

.PHONY: cluster-up
cluster-up: ## Start the local cluster (PROFILE=enforcing|noop|partial, NODES=1..20), or switch its profile or node count
	NODES=$(NODES) e2e/cluster/cluster.sh up $(PROFILE)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster, leaving no processes, mounts, rules or interfaces
	e2e/cluster/cluster.sh down

INSTALL ?= kustomize

.PHONY: deploy
deploy: ## Build the image without Docker, import it and install the operator on the local cluster (INSTALL=kustomize|helm)
	e2e/cluster/deploy.sh $(INSTALL)

.PHONY: e2e
e2e: ## Run the end-to-end suites on the local cluster: enforcing, no-op and partial profiles, 3 nodes (E2E_NODES)
	e2e/run.sh

.PHONY: e2e-kind
e2e-kind: ## Run the end-to-end suites on kind with Calico (needs docker, kind and internet; not run here)
	e2e/kind/run.sh

.PHONY: bench
bench: ## Measure netconform against the upstream suite's method on the local cluster (BENCH_ARGS="--reps 5"); prints the JSON path last
	hack/bench.sh $(BENCH_ARGS)

.PHONY: demo
demo: ## Bring up the local cluster, deploy the operator and run the Bookstore scenario
	e2e/cluster/demo.sh

$(CONTROLLER_GEN):
	GOBIN=$(dir $@) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

# Releases, the GitHub Action and the kind + Calico files: goreleaser, its SBOM generator
# and actionlint, built from their Go modules into the tool cache.
GORELEASER_VERSION ?= v2.15.1
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
ACTIONLINT_VERSION ?= v1.7.12
GORELEASER := $(NETCONFORM_CACHE)/tools/goreleaser-$(GORELEASER_VERSION)/goreleaser
CYCLONEDX_GOMOD := $(NETCONFORM_CACHE)/tools/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)/cyclonedx-gomod
ACTIONLINT := $(NETCONFORM_CACHE)/tools/actionlint-$(ACTIONLINT_VERSION)/actionlint

.PHONY: release
release: $(GORELEASER) $(CYCLONEDX_GOMOD) ## Snapshot release in dist/: binaries, archives, checksums, SBOMs, the image index (OCI layout), install.yaml and chart values by digest
	PATH="$(dir $(CYCLONEDX_GOMOD)):$$PATH" GORELEASER=$(GORELEASER) hack/release.sh

.PHONY: release-check
release-check: $(GORELEASER) $(ACTIONLINT) ## Validate .goreleaser.yaml; actionlint the example workflow, action.yml's use and the README's workflow
	$(GORELEASER) check
	hack/lint-actions.sh $(ACTIONLINT)


$(GORELEASER):
	GOBIN=$(dir $@) go install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

$(CYCLONEDX_GOMOD):
	GOBIN=$(dir $@) go install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

$(ACTIONLINT):
	GOBIN=$(dir $@) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
