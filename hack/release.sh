#!/usr/bin/env bash
# make release: a snapshot release in dist/, published nowhere. goreleaser builds the
# binaries (linux and darwin, amd64 and arm64), archives, checksums and SBOMs; then the
# image index is written as an OCI layout without Docker, and the manifests and the
# chart's values name that index by digest; the krew manifest names the archives by checksum.
#   GORELEASER=path hack/release.sh     (cyclonedx-gomod must be on PATH)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
REPOSITORY=${RELEASE_REPOSITORY:-ghcr.io/netconform/netconform}
GORELEASER=${GORELEASER:?set GORELEASER to the goreleaser binary (make release does)}

log() { printf '%s release: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# goreleaser knows no commit in a clone without a remote: name it for the version.
commit=$(git rev-parse HEAD)
log "goreleaser (snapshot)"
RELEASE_COMMIT=${commit:0:7} "$GORELEASER" release --snapshot --clean >&2

log "image index for linux/amd64 and linux/arm64, and dist/values-release.yaml for charts/netconform"
digest=$(go run ./hack/release-image --dist dist --out dist/image --repository "$REPOSITORY" --revision "$commit" --values dist/values-release.yaml)

log "dist/install.yaml with $REPOSITORY@$digest"
overlay=dist/install
mkdir -p "$overlay"
cat >"$overlay/kustomization.yaml" <<YAML
# The operator as released: config/default with the image by digest.
resources:
  - ../../config/default
images:
  - name: ghcr.io/netconform/netconform
    newName: $REPOSITORY
    digest: $digest
YAML
kubectl=$(hack/k8s-binaries.sh kubectl)/kubectl
"$kubectl" kustomize "$overlay" >dist/install.yaml
rm -r "$overlay"
grep -q "image: $REPOSITORY@$digest" dist/install.yaml ||
  { echo "release: dist/install.yaml does not run $REPOSITORY@$digest" >&2; exit 1; }

log "dist/krew/netconform.yaml: the krew manifest with the archives' checksums"
mkdir -p dist/krew
go run ./hack/release-krew --dist dist --out dist/krew/netconform.yaml
go -C hack/krewcheck tool validate-krew-manifest -manifest "$ROOT/dist/krew/netconform.yaml" -skip-install >&2

echo "release: $REPOSITORY@$digest ($(grep -o 'tag: .*' dist/values-release.yaml)), an OCI layout in dist/image, not pushed; dist/install.yaml and dist/values-release.yaml take it by digest"
