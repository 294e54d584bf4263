#!/usr/bin/env bash
# Written by `exoform init`.  Decides what happens to the drift issues, without touching GitHub:
#   $1  the drift results (<tenant>.code and <tenant>.md from drift-check.sh)
#   $2  the open drift and cannot-check issues (gh issue list --json number,title,body)
#   $3  output folder: actions.tsv (one action a line: `create<TAB>title<TAB>file[<TAB>label]` (label
#       default exoform-drift), `edit<TAB>number<TAB>file`, `close<TAB>number<TAB>file`) and the body files
#   TENANTS   the tenants matrix ({"tenant":[...]}) of this run;  RUN_URL
# A drifted tenant gets its issue opened or updated (not when the body is unchanged); a tenant without
# drift gets its issue closed; the issue of a tenant that is no longer in exoform.yaml is closed.
# A tenant that could not be checked (sign-in refused, consent revoked, service down) gets its own
# "cannot check" issue (label exoform-cannot-check), opened or updated like a drift issue and closed once
# the tenant is checked again; its drift issue is left as it is (its drift is unknown, not resolved).
# Names are escaped in the comments (Markdown).
set -euo pipefail
set -f # nothing is a glob
results=$1
issues=$2
out=$3
name_re='^@@TENANT_NAME_RE@@$'
# A name as literal Markdown: every character that could format, link or mention is a character reference.
md='def md: "<code>" + gsub("(?<c>[&<>|`*_\\[\\]\\\\~#@\r\n\t])"; "&#\(.c | explode[0]);") + "</code>";'
# The open issues' numbers by exact title, read in one pass (jq costs a start-up per call, and a fleet's
# nightly run asks for every tenant's); the first issue of a title wins.  A title holding a NUL cannot be
# a shell string, so it is no tenant's title and is left out (it cannot alias one).
declare -A open_by_title=()
while IFS= read -r -d '' title && IFS= read -r -d '' number; do
  [ -n "${open_by_title[$title]+set}" ] || open_by_title[$title]=$number
done < <(jq -j '.[] | select((.number | type == "number") and (.title | type == "string") and .title != "")
  | select(.title | explode | any(.[]; . == 0) | not) | .title, "\u0000", (.number | tostring), "\u0000"' "$issues")
# open_number TITLE: the number of the open issue titled exactly TITLE, or nothing
open_number() { printf '%s' "${open_by_title[$1]-}"; }
# cannot_check TENANT N: open or update the tenant's cannot-check issue with its report of the failure
cannot_check() {
  local number body="$out/$2-unchecked.md"
  number=$(open_number "$unchecked$1")
  {
    jq -jn --arg t "$1" "$md"'"exoform could not check \($t | md) for drift: the error is below. Its drift issue, if any, stays open: whether it drifted is unknown until it can be checked. This issue closes by itself once it can.\n\n"'
    cat -- "$results/$1.md"
  } > "$body"
  if [ -z "$number" ]; then
    printf 'create\t%s\t%s\t%s\n' "$unchecked$1" "$2-unchecked.md" exoform-cannot-check >> "$out/actions.tsv"
  elif [ "$(jq -r --argjson n "$number" '.[] | select(.number == $n) | .body' "$issues")" != "$(cat -- "$body")" ]; then
    printf 'edit\t%s\t%s\n' "$number" "$2-unchecked.md" >> "$out/actions.tsv"
  fi
}
# checked_again TENANT N: close the tenant's cannot-check issue, if open
checked_again() {
  local number
  number=$(open_number "$unchecked$1")
  if [ -n "$number" ]; then
    jq -jn --arg t "$1" --arg run "$run" "$md"'"\($t | md) can be checked again (by \($run)): closing.\n"' > "$out/$2-checked.md"
    printf 'close\t%s\t%s\n' "$number" "$2-checked.md" >> "$out/actions.tsv"
  fi
}
mkdir -p -- "$out"
: > "$out/actions.tsv"
prefix="exoform drift: "
unchecked="exoform: cannot check tenant "
run=${RUN_URL:-this run}
jq -e '.tenant | type == "array"' <<< "$TENANTS" > /dev/null
n=0
while IFS= read -r -d '' tenant; do
  if ! [[ $tenant =~ $name_re ]]; then
    echo "A name that breaks the rule of tenant names was skipped."
    continue
  fi
  title="$prefix$tenant"
  number=$(open_number "$title")
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
    1)
      printf 'Tenant %s could not be checked: its cannot-check issue is opened or updated.\n' "$tenant"
      cannot_check "$tenant" "$n"
      ;;
    *) printf 'Tenant %s has no result (%s): its issues are left as they are.\n' "$tenant" "$code" ;;
  esac
  if [ "$code" = 0 ] || [ "$code" = 2 ]; then checked_again "$tenant" "$n"; fi
done < <(jq -j '.tenant[] | tostring | (., "\u0000")' <<< "$TENANTS")
# Issues of tenants no longer in exoform.yaml: the title is whatever the issue says, so it is escaped.
for p in "$prefix" "$unchecked"; do
  what="drift issue"
  [ "$p" = "$prefix" ] || what="cannot-check issue"
  jq -r --arg p "$p" --argjson known "$TENANTS" '
    .[] | select((.title | startswith($p)) and (.number | type == "number"))
    | select(.title | ltrimstr($p) as $t | $known.tenant | index($t) | not) | .number' "$issues" |
    while IFS= read -r number; do
      jq -j --arg p "$p" --arg run "$run" --arg what "$what" --argjson n "$number" "$md"'
        .[] | select(.number == $n) | .title | ltrimstr($p)
        | "Tenant \(md) is no longer in exoform.yaml: closing its \($what) (\($run)).\n"' "$issues" \
        > "$out/removed-$number.md"
      printf 'close\t%s\t%s\n' "$number" "removed-$number.md" >> "$out/actions.tsv"
    done
done
cat -- "$out/actions.tsv"
