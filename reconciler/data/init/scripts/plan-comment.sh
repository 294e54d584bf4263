#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks are Markdown, not command substitution
# Written by `exoform init`.  Plans every tenant (when the pull request needs it) and writes the pull
# request comment to $1; writes `code=0|1` (the plan's exit status) to $GITHUB_OUTPUT.  Always exits 0, so
# the comment is posted even when the plan failed; the workflow fails the job afterwards.
#   FORK "true" for a fork, PLAN "true" when a connector file changed (scope.sh), COMMIT_SHA, RUN_URL,
#   BASE_SHA the pull request's base commit (plan --base: repairs marked apart from the PR's changes),
#   SARIF    where to save the posture findings as SARIF too (plan --sarif), when set
set -uo pipefail
body=$1
out=${GITHUB_OUTPUT:-/dev/null}
version=$(exoform --version | sed -n 's/^exoform, version //p')
marker="<!-- exoform-plan -->"
limit=65000
footer() {
  printf '\n---\n<sub>exoform %s · commit %s' "$version" "${COMMIT_SHA:-unknown}"
  if [ -n "${RUN_URL:-}" ]; then printf ' · [run log](%s)' "$RUN_URL"; fi
  printf '</sub>\n'
}
code=0
if [ "${FORK:-false}" = true ]; then
  {
    printf '%s\n## exoform plan\n\n' "$marker"
    printf ':information_source: No plan was made: this pull request comes from a fork. GitHub gives runs\n'
    printf 'for forks neither an OIDC token (to sign in to Exchange Online) nor a token that can comment, so\n'
    printf 'the files were validated and checked for security posture only. A maintainer can push the branch\n'
    printf 'to this repository to get a plan.\n'
    footer
  } > "$body"
elif [ "${PLAN:-true}" != true ]; then
  {
    printf '%s\n## exoform plan\n\n' "$marker"
    printf ':white_check_mark: No plan needed: this pull request changes no connector file and not exoform.yaml.\n'
    footer
  } > "$body"
else
  # The Markdown plan ends with its own footer (exoform version, commit from GITHUB_SHA): name the
  # pull request's head commit there, not the merge commit GitHub sets for pull_request runs.
  args=()
  if [ -n "${BASE_SHA:-}" ]; then args+=(--base "$BASE_SHA"); fi
  if [ -n "${SARIF:-}" ]; then args+=(--sarif "$SARIF"); fi
  GITHUB_SHA=${COMMIT_SHA:-${GITHUB_SHA:-}} exoform plan --no-color --format markdown --out plan.json \
    "${args[@]}" > plan.md 2> plan.err
  code=$?
  cat plan.err >&2
  planned=true
  [ -s plan.md ] || { printf '%s\n## exoform plan\n' "$marker" > plan.md; planned=false; }
  {
    if [ "$code" != 0 ]; then
      printf '\n:x: **The plan failed** (exit %s): nothing can be applied from this run.\n\n```\n' "$code"
      grep -v '^$' plan.err | tail -n 10 | cut -c1-300
      printf '```\n'
    fi
  } > plan.tail
  footer > plan.footer
  # GitHub refuses a comment over 65,536 characters: cut the plan (bytes >= characters), never the tail
  room=$((limit - $(wc -c < plan.tail) - $(wc -c < plan.footer)))
  if [ "$(wc -c < plan.md)" -gt "$room" ]; then
    head -c $((room - 200)) plan.md | iconv -f utf-8 -t utf-8 -c
    printf '\n\n*(The plan was cut to fit in a comment: `exoform plan` shows all of it.)*\n'
    planned=false  # its own footer (version, commit) was cut with it
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
fi
echo "code=$code" >> "$out"
exit 0
