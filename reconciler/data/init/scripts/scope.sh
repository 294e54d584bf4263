#!/usr/bin/env bash
# Written by `exoform init`.  Decides whether this pull request needs a plan; writes `plan=true|false` to
# $GITHUB_OUTPUT.  A plan is needed when the pull request comes from this repository (a fork gets no OIDC
# token) and changes exoform.yaml, a connector file or exoform's own workflow files.
#   FORK          "true" for a pull request from a fork
#   BASE, HEAD    the commits to compare (default: the checked-out merge commit and its first parent)
#   EXOFORM_PATHS space-separated path prefixes that need a plan (default below)
set -euo pipefail
set -f # nothing is a glob
paths=${EXOFORM_PATHS:-"exoform.yaml connectors/ .github/workflows/plan.yml .github/exoform/"}
out=${GITHUB_OUTPUT:-/dev/stdout}
if [ "${FORK:-false}" = true ]; then
  echo "plan=false" >> "$out"
  echo "This pull request comes from a fork: validation only, no plan."
  exit 0
fi
read -r -a prefixes <<< "$paths"
changed=$(mktemp)
trap 'rm -f -- "$changed"' EXIT
git diff -z --name-only --end-of-options "${BASE:-HEAD^1}" "${HEAD:-HEAD}" -- > "$changed" # a failed diff fails the step
while IFS= read -r -d '' file; do
  for prefix in "${prefixes[@]}"; do
    if [ "$file" = "$prefix" ] || { [ "${prefix%/}" != "$prefix" ] && [ "${file#"$prefix"}" != "$file" ]; }; then
      echo "plan=true" >> "$out"
      printf '%q needs a plan.\n' "$file"
      exit 0
    fi
  done
done < "$changed"
echo "plan=false" >> "$out"
echo "No connector file changed: nothing to plan."
