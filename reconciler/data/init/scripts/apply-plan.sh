#!/usr/bin/env bash
# Written by `exoform init`.  Plans tenant $1 (read-only) into $3 (default plan.json) and records the outcome in
# $2/<tenant>: "changes" (apply it), "none" (nothing to apply) or "failed" (never apply).  The plan goes to
# the job summary.  Exits 1 when the plan failed or $1 is not a tenant name (exoform.yaml's rule).
set -uo pipefail
set -f # nothing is a glob
tenant=$1
results=$2
plan=${3:-plan.json}
name_re='^@@TENANT_NAME_RE@@$'
if ! [[ $tenant =~ $name_re ]]; then
  echo "::error::apply-plan.sh: not a tenant name (letters, digits, '.', '_', '-')" >&2
  exit 1
fi
mkdir -p -- "$results" "$(dirname -- "$plan")"
exoform plan --tenant="$tenant" --no-color --format markdown --detailed-exitcode --out "$plan" > plan.md
code=$?
case $code in
  0) outcome=none; rm -f -- "$plan" ;;
  2) outcome=changes ;;
  *) outcome=failed; rm -f -- "$plan" ;;
esac
printf '%s\n' "$outcome" > "$results/$tenant"
{
  cat plan.md
  # Markdown-literal: of the characters a name may hold, only '_' could format
  printf '\nPlan of <code>%s</code>: %s.\n' "${tenant//_/"&#95;"}" "$outcome"
} >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
printf 'Plan of %s: %s.\n' "$tenant" "$outcome"
[ "$outcome" != failed ]
