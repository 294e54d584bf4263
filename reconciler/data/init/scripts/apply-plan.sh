#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks are Markdown, not command substitution
# Written by `exoform init`.  Plans tenant $1 (read-only) into $3 (default plan.json) and records the outcome in
# $2/<tenant>: "changes" (apply it), "none" (nothing to apply) or "failed" (never apply).  The plan goes to
# the job summary.  Exits 1 when the plan failed.
set -uo pipefail
tenant=$1
results=$2
plan=${3:-plan.json}
mkdir -p "$results" "$(dirname "$plan")"
exoform plan --tenant "$tenant" --no-color --format markdown --detailed-exitcode --out "$plan" > plan.md
code=$?
case $code in
  0) outcome=none; rm -f "$plan" ;;
  2) outcome=changes ;;
  *) outcome=failed; rm -f "$plan" ;;
esac
printf '%s\n' "$outcome" > "$results/$tenant"
{
  cat plan.md
  printf '\nPlan of `%s`: %s.\n' "$tenant" "$outcome"
} >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "Plan of $tenant: $outcome."
[ "$outcome" != failed ]
