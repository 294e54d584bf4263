#!/usr/bin/env bash
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
# shellcheck source=comment.sh
source "$(dirname -- "$0")/comment.sh"
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
  plan_comment "$body" "$code"
fi
echo "code=$code" >> "$out"
exit 0
