#!/usr/bin/env bash
# Written by `exoform init`.  Reads the per-tenant outcomes that apply-plan.sh left in $1 and writes the
# apply matrix to $GITHUB_OUTPUT: `matrix={"include":[{"shard":"1-of-N","tenants":[...]},...]}` with the
# tenants whose plan has changes, in at most 256 balanced shards (GitHub's matrix limit; one tenant each
# up to 256), and `any=true|false`.  A tenant whose plan failed, was cancelled or had no changes is not applied.
#   TENANTS  the tenants matrix ({"tenant":[...]}) of this run
set -euo pipefail
results=$1
out=${GITHUB_OUTPUT:-/dev/stdout}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
apply=()
for tenant in $(jq -r '.tenant[]' <<< "$TENANTS"); do
  outcome=$(cat "$results/$tenant" 2> /dev/null || echo "no result")
  case $outcome in
    changes) apply+=("$tenant"); reason="changes: apply after approval" ;;
    none) reason="no changes: nothing to apply" ;;
    failed) reason="plan failed: not applied" ;;
    *) reason="no plan (cancelled or not run): not applied" ;;
  esac
  echo "- \`$tenant\`: $reason" | tee -a "$summary"
done
matrix=$(jq -cn --argjson limit 256 '
  $ARGS.positional as $t | ($t | length) as $n | ([$n, $limit] | min) as $jobs
  | {include: [range(0; $jobs) as $i | (($n - $n % $jobs) / $jobs) as $q | ($n % $jobs) as $r
      | ($i * $q + ([$i, $r] | min)) as $s | ($s + $q + (if $i < $r then 1 else 0 end)) as $e
      | {shard: "\($i + 1)-of-\($jobs)", tenants: $t[$s:$e]}]}' --args "${apply[@]}")
echo "matrix=$matrix" >> "$out"
if [ ${#apply[@]} -gt 0 ]; then echo "any=true" >> "$out"; else echo "any=false" >> "$out"; fi
