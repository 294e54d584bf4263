#!/usr/bin/env bash
# Written by `exoform init`.  Checks tenant $1 for drift (read-only) and writes $2/<tenant>.code (0 no drift,
# 2 drift, 1 error) and $2/<tenant>.md (the issue body: the drift report, the exoform version and the
# commit).  Exits 1 when the tenant could not be checked or $1 is not a tenant name (exoform.yaml's rule).
#   COMMIT_SHA (default: GITHUB_SHA)
set -uo pipefail
set -f # nothing is a glob
tenant=$1
dir=$2
name_re='^@@TENANT_NAME_RE@@$'
if ! [[ $tenant =~ $name_re ]]; then
  echo "::error::drift-check.sh: not a tenant name (letters, digits, '.', '_', '-')" >&2
  exit 1
fi
mkdir -p -- "$dir"
exoform drift --tenant="$tenant" --format markdown > "$dir/$tenant.report"
code=$?
version=$(exoform --version | sed -n 's/^exoform, version //p')
{
  cat "$dir/$tenant.report"
  printf '\n---\n<sub>exoform %s · commit %s</sub>\n' "$version" "${COMMIT_SHA:-${GITHUB_SHA:-unknown}}"
} > "$dir/$tenant.md"
rm -f -- "$dir/$tenant.report"
printf '%s\n' "$code" > "$dir/$tenant.code"
cat "$dir/$tenant.md" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
[ "$code" != 1 ]
