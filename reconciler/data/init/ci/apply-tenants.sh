#!/usr/bin/env bash
# Written by `exoform init`.  Applies, with the WRITE app, the saved plan of each tenant that
# plan-tenants.sh found with changes in folder $1 (exactly that plan: apply refuses one the tenant has moved
# past).  A tenant whose plan failed or had no changes is not applied.  Exits 1 when an apply failed.
set -uo pipefail
set -f # nothing is a glob
# shellcheck source=lib.sh
source "$(dirname -- "$0")/lib.sh"
out=$1
failed=0
while IFS= read -r tenant; do
  if ! is_tenant "$tenant"; then
    echo "error: a name that breaks the rule of tenant names: not applied" >&2
    failed=1
    continue
  fi
  outcome="no result"
  if [ -f "$out/results/$tenant" ]; then read -r outcome < "$out/results/$tenant" || true; fi
  if [ "$outcome" != changes ]; then
    printf 'Tenant %s: %s, nothing to apply.\n' "$tenant" "$outcome"
    continue
  fi
  exoform apply -- "$out/plans/$tenant.json" 2>&1 | defuse || failed=1
done < "$out/tenants"
exit "$failed"
