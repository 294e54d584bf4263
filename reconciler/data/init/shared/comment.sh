# shellcheck shell=bash
# shellcheck disable=SC2016  # the backticks are Markdown, not command substitution
# Written by `exoform init`.  Sourced by the plan comment's script, never run: the comment of a plan,
# the same on every CI system.  Needs $marker, $limit (the host's comment size limit, in characters;
# bytes are counted, never fewer) and $version; reads COMMIT_SHA and RUN_URL.

# footer: the comment's last line (exoform's version, the commit, the run log).
footer() {
  printf '\n---\n<sub>exoform %s · commit %s' "$version" "${COMMIT_SHA:-unknown}"
  if [ -n "${RUN_URL:-}" ]; then printf ' · [run log](%s)' "$RUN_URL"; fi
  printf '</sub>\n'
}

# plan_comment BODY CODE: writes to BODY the comment of the plan `exoform plan --format markdown` wrote
# to plan.md (its messages in plan.err) and ended with exit status CODE.  A plan too long for a comment
# is cut (on a character boundary), never the failure that follows it nor the footer; a plan that ends
# with its own footer (version, commit) gets only the run log after it.
plan_comment() {
  local body=$1 code=$2 planned=true room
  [ -s plan.md ] || { printf '%s\n## exoform plan\n' "$marker" > plan.md; planned=false; }
  {
    if [ "$code" != 0 ]; then
      printf '\n:x: **The plan failed** (exit %s): nothing can be applied from this run.\n\n```\n' "$code"
      grep -v '^$' plan.err | tail -n 10 | cut -c1-300
      printf '```\n'
    fi
  } > plan.tail
  footer > plan.footer
  room=$((limit - $(wc -c < plan.tail) - $(wc -c < plan.footer)))
  if [ "$(wc -c < plan.md)" -gt "$room" ]; then
    head -c $((room - 200)) plan.md | iconv -f utf-8 -t utf-8 -c
    printf '\n\n*(The plan was cut to fit in a comment: `exoform plan` shows all of it.)*\n'
    planned=false # its own footer was cut with it
  else
    cat plan.md
  fi > "$body"
  cat plan.tail >> "$body"
  if [ "$planned" = true ]; then
    if [ -n "${RUN_URL:-}" ]; then printf '\n<sub>[run log](%s)</sub>\n' "$RUN_URL" >> "$body"; fi
  else
    cat plan.footer >> "$body"
  fi
  rm -f plan.tail plan.footer
}
