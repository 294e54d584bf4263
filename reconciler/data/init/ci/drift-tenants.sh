#!/usr/bin/env bash
# Written by `exoform init`.  Checks every tenant of exoform.yaml for drift with the READ-ONLY app and
# writes to folder $1: `tenants` (the names, one a line), <tenant>.code (0 no drift, 2 drift, 1 error) and
# <tenant>.md (the item body: the drift report, the exoform version and the commit).  Exits 1 when a
# tenant could not be checked (after checking the others).
#   COMMIT_SHA  named in each body
set -uo pipefail
set -f # nothing is a glob
# shellcheck source=lib.sh
source "$(dirname -- "$0")/lib.sh"
dir=$1
mkdir -p -- "$dir"
list_tenants "$dir/tenants" || exit 1
version=$(exoform_version)
failed=0
while IFS= read -r tenant; do
  if ! is_tenant "$tenant"; then
    echo "error: a name that breaks the rule of tenant names: not checked" >&2
    failed=1
    continue
  fi
  exoform drift --tenant="$tenant" --format markdown 2>&1 > "$dir/$tenant.report" | defuse >&2
  code=${PIPESTATUS[0]}
  {
    cat -- "$dir/$tenant.report"
    printf '\n---\n<sub>exoform %s · commit %s</sub>\n' "$version" "${COMMIT_SHA:-unknown}"
  } > "$dir/$tenant.md"
  rm -f -- "$dir/$tenant.report"
  printf '%s\n' "$code" > "$dir/$tenant.code"
  printf 'Drift of %s: exit %s.\n' "$tenant" "$code"
  if [ "$code" = 1 ]; then failed=1; fi
done < "$dir/tenants"
exit "$failed"
