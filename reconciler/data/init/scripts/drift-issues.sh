#!/usr/bin/env bash
# Written by `exoform init`.  Decides what happens to the drift issues, without touching GitHub:
#   $1  the drift results (<tenant>.code and <tenant>.md from drift-check.sh)
#   $2  the open drift issues (gh issue list --json number,title,body)
#   $3  output folder: actions.tsv (one action a line: `create<TAB>title<TAB>file`,
#       `edit<TAB>number<TAB>file`, `close<TAB>number<TAB>file`) and the body files
#   TENANTS   the tenants matrix ({"tenant":[...]}) of this run;  RUN_URL
# A drifted tenant gets its issue opened or updated (not when the body is unchanged); a tenant without
# drift gets its issue closed; a tenant that could not be checked keeps its issue as it is; the issue of a
# tenant that is no longer in exoform.yaml is closed.  Names are escaped in the comments (Markdown).
set -euo pipefail
set -f # nothing is a glob
results=$1
issues=$2
out=$3
name_re='^@@TENANT_NAME_RE@@$'
# A name as literal Markdown: every character that could format, link or mention is a character reference.
md='def md: "<code>" + gsub("(?<c>[&<>|`*_\\[\\]\\\\~#@\r\n\t])"; "&#\(.c | explode[0]);") + "</code>";'
mkdir -p -- "$out"
: > "$out/actions.tsv"
prefix="exoform drift: "
run=${RUN_URL:-this run}
jq -e '.tenant | type == "array"' <<< "$TENANTS" > /dev/null
n=0
while IFS= read -r -d '' tenant; do
  if ! [[ $tenant =~ $name_re ]]; then
    echo "A name that breaks the rule of tenant names was skipped."
    continue
  fi
  title="$prefix$tenant"
  number=$(jq -r --arg t "$title" '[.[] | select(.title == $t)][0].number // empty' "$issues")
  code=$(cat -- "$results/$tenant.code" 2> /dev/null || echo missing)
  n=$((n + 1))
  case $code in
    2)
      if [ -z "$number" ]; then
        cp -- "$results/$tenant.md" "$out/$n.md"
        printf 'create\t%s\t%s\n' "$title" "$n.md" >> "$out/actions.tsv"
      elif [ "$(jq -r --argjson n "$number" '.[] | select(.number == $n) | .body' "$issues")" != "$(cat -- "$results/$tenant.md")" ]; then
        cp -- "$results/$tenant.md" "$out/$n.md"
        printf 'edit\t%s\t%s\n' "$number" "$n.md" >> "$out/actions.tsv"
      fi
      ;;
    0)
      if [ -n "$number" ]; then
        jq -jn --arg t "$tenant" --arg run "$run" "$md"'
          "No drift any more in \($t | md): the tenant matches the files (checked by \($run)).\n"' > "$out/$n.md"
        printf 'close\t%s\t%s\n' "$number" "$n.md" >> "$out/actions.tsv"
      fi
      ;;
    *) printf 'Tenant %s could not be checked (%s): its issue is left as it is.\n' "$tenant" "$code" ;;
  esac
done < <(jq -j '.tenant[] | tostring | (., "\u0000")' <<< "$TENANTS")
# Issues of tenants no longer in exoform.yaml: the title is whatever the issue says, so it is escaped.
jq -r --arg p "$prefix" --argjson known "$TENANTS" '
  .[] | select((.title | startswith($p)) and (.number | type == "number"))
  | select(.title | ltrimstr($p) as $t | $known.tenant | index($t) | not) | .number' "$issues" |
  while IFS= read -r number; do
    jq -j --arg p "$prefix" --arg run "$run" --argjson n "$number" "$md"'
      .[] | select(.number == $n) | .title | ltrimstr($p)
      | "Tenant \(md) is no longer in exoform.yaml: closing its drift issue (\($run)).\n"' "$issues" \
      > "$out/removed-$number.md"
    printf 'close\t%s\t%s\n' "$number" "removed-$number.md" >> "$out/actions.tsv"
  done
cat -- "$out/actions.tsv"
