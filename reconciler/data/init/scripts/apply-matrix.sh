#!/usr/bin/env bash
# Written by `exoform init`.  Reads the per-tenant outcomes that apply-plan.sh left in $1 and writes the
# apply matrix to $GITHUB_OUTPUT: `matrix={"include":[{"shard":"1-of-N","tenants":[...]},...]}` with the
# tenants whose plan has changes, in at most 256 balanced shards (GitHub's matrix limit): one tenant each
# up to 256, or the fewest shards of at most MAX_PER_JOB tenants when it is set; and `any=true|false`.  A tenant whose plan failed, was cancelled or had no changes is not
# applied, nor is a name that breaks exoform.yaml's rule.
#   TENANTS      the tenants matrix ({"tenant":[...]}) of this run
#   MAX_PER_JOB  at most this many tenants per job (exoform init --max-per-job); 0 or unset: one per job
set -euo pipefail
set -f # nothing is a glob
results=$1
out=${GITHUB_OUTPUT:-/dev/stdout}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
name_re='^@@TENANT_NAME_RE@@$'
per_job=${MAX_PER_JOB:-0}
[[ $per_job =~ ^[0-9]+$ ]] || { echo "::error::MAX_PER_JOB is not a number" >&2; exit 1; }
jq -e '.tenant | type == "array"' <<< "$TENANTS" > /dev/null
apply=()
while IFS= read -r -d '' tenant; do
  if ! [[ $tenant =~ $name_re ]]; then
    printf -- '- a name that breaks the rule of tenant names: not applied\n' | tee -a "$summary"
    continue
  fi
  outcome="no result"
  if [ -f "$results/$tenant" ]; then read -r outcome < "$results/$tenant" || true; fi
  case $outcome in
    changes) apply+=("$tenant"); reason="changes: apply after approval" ;;
    none) reason="no changes: nothing to apply" ;;
    failed) reason="plan failed: not applied" ;;
    *) reason="no plan (cancelled or not run): not applied" ;;
  esac
  # Markdown-literal: of the characters a name may hold, only '_' could format
  printf -- '- <code>%s</code>: %s\n' "${tenant//_/"&#95;"}" "$reason" | tee -a "$summary"
done < <(jq -j '.tenant[] | tostring | (., "\u0000")' <<< "$TENANTS")
# the names (no newline in any: the rule) go to jq on its input, never as arguments it could take for options
matrix=$(if [ ${#apply[@]} -gt 0 ]; then printf '%s\n' "${apply[@]}"; fi | jq -cRs --argjson limit 256 --argjson k "$per_job" '
  split("\n")[:-1] as $t | ($t | length) as $n
  | ([if $k > 0 then (($n + $k - 1) / $k | floor) else $n end, $limit] | min) as $jobs
  | {include: [range(0; $jobs) as $i | (($n - $n % $jobs) / $jobs) as $q | ($n % $jobs) as $r
      | ($i * $q + ([$i, $r] | min)) as $s | ($s + $q + (if $i < $r then 1 else 0 end)) as $e
      | {shard: "\($i + 1)-of-\($jobs)", tenants: $t[$s:$e]}]}')
echo "matrix=$matrix" >> "$out"
if [ ${#apply[@]} -gt 0 ]; then echo "any=true" >> "$out"; else echo "any=false" >> "$out"; fi
