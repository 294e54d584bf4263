#!/usr/bin/env bash
# Written by `exoform init`.  Reads the per-tenant outcomes that apply-plan.sh left in $1 and writes, for
# each ring K of 0 to STAGES-1, the matrix of the job that applies ring K to $GITHUB_OUTPUT:
# `matrix_K={"include":[{"shard":"1-of-N","tenants":[...]},...]}` with the ring's tenants whose plan has
# changes, in at most 256 balanced shards (GitHub's matrix limit): one tenant each up to 256, or the fewest
# shards of at most MAX_PER_JOB tenants when it is set; and `any_K=true|false`.  A tenant whose plan
# failed, was cancelled or had no changes is not applied, nor is a name that breaks exoform.yaml's rule.
# A tenant with changes in a ring that has no job here (K >= STAGES) fails the step: nothing is applied.
#   TENANTS      the tenants matrix ({"tenant":[...]}) of this run
#   RINGS        each tenant's ring ({"NAME":RING,...}, exoform tenants --json --rings); unset: all ring 0
#   STAGES       how many ring jobs the workflow has (exoform init --rings); default 1
#   MAX_PER_JOB  at most this many tenants per job (exoform init --max-per-job); 0 or unset: one per job
set -euo pipefail
set -f # nothing is a glob
results=$1
out=${GITHUB_OUTPUT:-/dev/stdout}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
name_re='^@@TENANT_NAME_RE@@$'
per_job=${MAX_PER_JOB:-0}
stages=${STAGES:-1}
rings=${RINGS:-"{}"}
[[ $per_job =~ ^[0-9]+$ ]] || { echo "::error::MAX_PER_JOB is not a number" >&2; exit 1; }
[[ $stages =~ ^[1-9][0-9]*$ ]] || { echo "::error::STAGES is not a number from 1" >&2; exit 1; }
jq -e '.tenant | type == "array"' <<< "$TENANTS" > /dev/null
jq -e 'type == "object" and all(.[]; type == "number" and . >= 0 and . == floor)' <<< "$rings" > /dev/null
declare -a apply=() # one list of names a ring, newline-separated
declare -A ring_of=()
while IFS= read -r -d '' name && IFS= read -r -d '' ring; do
  ring_of[$name]=$ring
done < <(jq -j 'to_entries[] | "\(.key)\u0000\(.value)\u0000"' <<< "$rings")
unstaged=0
while IFS= read -r -d '' tenant; do
  if ! [[ $tenant =~ $name_re ]]; then
    printf -- '- a name that breaks the rule of tenant names: not applied\n' | tee -a "$summary"
    continue
  fi
  ring=${ring_of[$tenant]:-0}
  outcome="no result"
  if [ -f "$results/$tenant" ]; then read -r outcome < "$results/$tenant" || true; fi
  case $outcome in
    changes)
      if [ "$ring" -lt "$stages" ]; then
        apply[ring]+="$tenant"$'\n'
        reason="changes: apply in ring $ring after approval"
      else
        unstaged=1
        reason="changes in ring $ring, which this workflow has no job for (rings 0 to $((stages - 1)))"
      fi
      ;;
    none) reason="no changes: nothing to apply" ;;
    failed) reason="plan failed: not applied" ;;
    *) reason="no plan (cancelled or not run): not applied" ;;
  esac
  # Markdown-literal: of the characters a name may hold, only '_' could format
  printf -- '- <code>%s</code>: %s\n' "${tenant//_/"&#95;"}" "$reason" | tee -a "$summary"
done < <(jq -j '.tenant[] | tostring | (., "\u0000")' <<< "$TENANTS")
if [ "$unstaged" = 1 ]; then
  echo "::error::a tenant with changes is in a ring this workflow has no job for: nothing is applied. Add the ring's job to apply.yml (exoform init --rings N writes them) or change the tenant's ring: in exoform.yaml." >&2
  exit 1
fi
for ((k = 0; k < stages; k++)); do
  # the names (no newline in any: the rule) go to jq on its input, never as arguments it could take for options
  matrix=$(printf '%s' "${apply[k]:-}" | jq -cRs --argjson limit 256 --argjson k "$per_job" '
    split("\n")[:-1] as $t | ($t | length) as $n
    | ([if $k > 0 then (($n + $k - 1) / $k | floor) else $n end, $limit] | min) as $jobs
    | {include: [range(0; $jobs) as $i | (($n - $n % $jobs) / $jobs) as $q | ($n % $jobs) as $r
        | ($i * $q + ([$i, $r] | min)) as $s | ($s + $q + (if $i < $r then 1 else 0 end)) as $e
        | {shard: "\($i + 1)-of-\($jobs)", tenants: $t[$s:$e]}]}')
  echo "matrix_$k=$matrix" >> "$out"
  if [ -n "${apply[k]:-}" ]; then echo "any_$k=true" >> "$out"; else echo "any_$k=false" >> "$out"; fi
done
