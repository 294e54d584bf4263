#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks are Markdown, not command substitution
# Written by `exoform init`.  Decides what happens to the drift issues, without touching GitHub:
#   $1  the drift results (<tenant>.code and <tenant>.md from drift-check.sh)
#   $2  the open drift issues (gh issue list --json number,title,body)
#   $3  output folder: actions.tsv (one action a line: `create<TAB>title<TAB>file`,
#       `edit<TAB>number<TAB>file`, `close<TAB>number<TAB>file`) and the body files
#   TENANTS   the tenants matrix ({"tenant":[...]}) of this run;  RUN_URL
# A drifted tenant gets its issue opened or updated (not when the body is unchanged); a tenant without
# drift gets its issue closed; a tenant that could not be checked keeps its issue as it is; the issue of a
# tenant that is no longer in exoform.yaml is closed.
set -euo pipefail
results=$1
issues=$2
out=$3
mkdir -p "$out"
: > "$out/actions.tsv"
prefix="exoform drift: "
run=${RUN_URL:-this run}
n=0
for tenant in $(jq -r '.tenant[]' <<< "$TENANTS"); do
  title="$prefix$tenant"
  number=$(jq -r --arg t "$title" '[.[] | select(.title == $t)][0].number // empty' "$issues")
  code=$(cat "$results/$tenant.code" 2> /dev/null || echo missing)
  n=$((n + 1))
  case $code in
    2)
      if [ -z "$number" ]; then
        cp "$results/$tenant.md" "$out/$n.md"
        printf 'create\t%s\t%s\n' "$title" "$n.md" >> "$out/actions.tsv"
      elif [ "$(jq -r --argjson n "$number" '.[] | select(.number == $n) | .body' "$issues")" != "$(cat "$results/$tenant.md")" ]; then
        cp "$results/$tenant.md" "$out/$n.md"
        printf 'edit\t%s\t%s\n' "$number" "$n.md" >> "$out/actions.tsv"
      fi
      ;;
    0)
      if [ -n "$number" ]; then
        printf 'No drift any more in `%s`: the tenant matches the files (checked by %s).\n' "$tenant" "$run" > "$out/$n.md"
        printf 'close\t%s\t%s\n' "$number" "$n.md" >> "$out/actions.tsv"
      fi
      ;;
    *) echo "Tenant $tenant could not be checked ($code): its issue is left as it is." ;;
  esac
done
jq -r --arg p "$prefix" '.[] | select(.title | startswith($p)) | "\(.number)\t\(.title | ltrimstr($p))"' "$issues" |
  while IFS=$'\t' read -r number tenant; do
    if ! jq -e --arg t "$tenant" '.tenant | index($t)' <<< "$TENANTS" > /dev/null; then
      n=$((n + 1))
      printf 'Tenant `%s` is no longer in exoform.yaml: closing its drift issue (%s).\n' "$tenant" "$run" > "$out/removed-$number.md"
      printf 'close\t%s\t%s\n' "$number" "removed-$number.md" >> "$out/actions.tsv"
    fi
  done
cat "$out/actions.tsv"
