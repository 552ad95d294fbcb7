#!/usr/bin/env bash
# actionlint on the GitHub files: the example workflow (e2e/kind/github-workflow.yaml) and
# the README's workflow, each with `uses: netconform/netconform@...` turned into `uses: ./`
# so that actionlint reads action.yml and checks the inputs they pass against it (unknown
# inputs, missing required ones, action.yml's own metadata). actionlint checks a local
# action only inside a project (.git and .github/workflows), so it runs in a copy. The
# workflows' run: scripts go through shellcheck (Debian's package, installed when missing).
#   hack/lint-actions.sh ACTIONLINT
set -euo pipefail
ACTIONLINT=${1:?usage: hack/lint-actions.sh ACTIONLINT}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "+ apt-get install shellcheck" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends shellcheck >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends shellcheck >/dev/null; }
fi
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
mkdir -p "$project/.git" "$project/.github/workflows"
cp "$ROOT/action.yml" "$project/"

local_action() { sed -E 's#uses: netconform/netconform@[^ ]+#uses: ./#' "$@"; }
local_action "$ROOT/e2e/kind/github-workflow.yaml" >"$project/.github/workflows/kind.yaml"
# The README's workflow: the yaml block of its "GitHub Action" section.
awk '/^## GitHub Action/ {s=1; next} /^## / {s=0} s && /^```yaml/ {y=1; next} y && /^```/ {exit} y' "$ROOT/README.md" |
  local_action >"$project/.github/workflows/readme.yaml"
[ -s "$project/.github/workflows/readme.yaml" ] || { echo "lint-actions: README.md has no yaml block under '## GitHub Action'" >&2; exit 1; }
for workflow in kind readme; do
  grep -q 'uses: \./' "$project/.github/workflows/$workflow.yaml" ||
    { echo "lint-actions: the $workflow workflow does not use netconform/netconform@..." >&2; exit 1; }
done

(cd "$project" && "$ACTIONLINT" -shellcheck="$(command -v shellcheck)" .github/workflows/kind.yaml .github/workflows/readme.yaml)

# action.yml's own scripts (its steps' `run: |` blocks) go through shellcheck too.
awk -v dir="$project" '
  /^      run: \|$/ { n++; out = dir "/step-" n ".sh"; print "#!/usr/bin/env bash" >out; next }
  out && /^        / { print substr($0, 9) >out; next }
  out && /^ *$/ { print "" >out; next }
  { out = "" }' "$ROOT/action.yml"
scripts=("$project"/step-*.sh)
[ -e "${scripts[0]}" ] || { echo "lint-actions: found no run: | step in action.yml" >&2; exit 1; }
shellcheck -s bash "${scripts[@]}"

# actionlint must really read action.yml: a workflow that misnames an input fails.
cat >"$project/.github/workflows/wrong.yaml" <<'YAML'
on: push
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        with:
          file: tests/
YAML
if out=$(cd "$project" && "$ACTIONLINT" -shellcheck= .github/workflows/wrong.yaml 2>&1); then
  echo "lint-actions: actionlint accepted an unknown input 'file' and a missing 'files': it did not read action.yml" >&2; exit 1
fi
if ! grep -q 'missing input "files"' <<<"$out" || ! grep -q 'input "file" is not defined' <<<"$out"; then
  echo "lint-actions: unexpected actionlint output: $out" >&2; exit 1
fi
echo "lint-actions: the example workflow and the README's pass actionlint $("$ACTIONLINT" -version | head -n 1) against action.yml; action.yml's ${#scripts[@]} scripts pass shellcheck"
