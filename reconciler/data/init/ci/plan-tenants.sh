#!/usr/bin/env bash
# Written by `exoform init`.  Plans every tenant of exoform.yaml with the READ-ONLY app, one at a time, and
# writes to folder $1: plans/<tenant>.json (only a plan with changes: only it can be applied),
# results/<tenant> ("changes", "none" or "failed"), `any` ("true" when a plan has changes) and
# summary.md.  A failed plan is never applied; the other tenants are still planned.  Exits 1 when a plan
# failed.
set -uo pipefail
set -f # nothing is a glob
# shellcheck source=lib.sh
source "$(dirname -- "$0")/lib.sh"
out=$1
mkdir -p -- "$out/plans" "$out/results"
list_tenants "$out/tenants" || exit 1
failed=0
any=false
: > "$out/summary.md"
while IFS= read -r tenant; do
  if ! is_tenant "$tenant"; then
    echo "error: a name that breaks the rule of tenant names: not planned" >&2
    failed=1
    continue
  fi
  exoform plan --tenant="$tenant" --no-color --format markdown --detailed-exitcode \
    --out "$out/plans/$tenant.json" 2>&1 > "$out/plan.md" | defuse >&2
  case ${PIPESTATUS[0]} in
    0) outcome=none; rm -f -- "$out/plans/$tenant.json" ;;
    2) outcome=changes; any=true ;;
    *) outcome=failed; failed=1; rm -f -- "$out/plans/$tenant.json" ;;
  esac
  printf '%s\n' "$outcome" > "$out/results/$tenant"
  { cat -- "$out/plan.md"; printf '\nPlan of %s: %s.\n\n' "$(md_name "$tenant")" "$outcome"; } >> "$out/summary.md"
  printf 'Plan of %s: %s.\n' "$tenant" "$outcome"
done < "$out/tenants"
rm -f -- "$out/plan.md"
printf '%s\n' "$any" > "$out/any"
exit "$failed"
