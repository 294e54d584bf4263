#!/usr/bin/env bash
# Written by `exoform init`.  The @@REQUEST@@ job: validates the files (security posture included), plans
# every tenant with the READ-ONLY app when the @@REQUEST@@ touches a connector file, and writes the comment
# to $1 and what it is to $1.scope: `plan`, `none` (no plan needed) or `fork` (validated only: a fork's
# pipeline gets no sign-in token).  Exits 1 when the files are invalid or the plan failed (after writing).
#   FORK        "true" (any case) for a @@REQUEST@@ from a fork
#   BASE, HEAD  the commits to compare (default: HEAD^1 and HEAD, the merge commit and its base); when
#               they cannot be compared, every tenant is planned.  The plan is made with --base BASE, so
#               repairs of changes made outside exoform are told apart from the @@REQUEST@@'s changes
#   COMMIT_SHA, RUN_URL  named in the footer
set -uo pipefail
set -f # nothing is a glob
# shellcheck source=lib.sh
source "$(dirname -- "$0")/lib.sh"
body=$1
paths=${EXOFORM_PATHS:-"@@CI_PATHS@@"}
marker="<!-- exoform-plan -->"
limit=65000
version=$(exoform_version)
base=${BASE:-HEAD^1}
# shellcheck source=comment.sh
source "$(dirname -- "$0")/comment.sh"
needs_plan() { # does the @@REQUEST@@ change a file under one of $paths?
  local changed file prefix prefixes
  read -r -a prefixes <<< "$paths"
  changed=$(mktemp)
  git diff -z --name-only --end-of-options "$base" "${HEAD:-HEAD}" -- > "$changed" || { rm -f -- "$changed"; return 2; }
  while IFS= read -r -d '' file; do
    for prefix in "${prefixes[@]}"; do
      if [ "$file" = "$prefix" ] || { [ "${prefix%/}" != "$prefix" ] && [ "${file#"$prefix"}" != "$file" ]; }; then
        rm -f -- "$changed"
        return 0
      fi
    done
  done < "$changed"
  rm -f -- "$changed"
  return 1
}
exoform validate 2>&1 | defuse
valid=${PIPESTATUS[0]}
code=0
fork=${FORK:-false}
if [ "${fork,,}" = true ]; then # Azure Pipelines says True
  scope=fork
else
  needs_plan
  case $? in
    1) scope=none ;;
    0) scope=plan ;;
    *) scope=plan; echo "warning: git diff failed: cannot tell whether a plan is needed, so planning" >&2 ;;
  esac
fi
printf '%s\n' "$scope" > "$body.scope"
case $scope in
  fork)
    {
      printf '%s\n## exoform plan\n\n' "$marker"
      printf ':information_source: No plan was made: this @@REQUEST@@ comes from a fork. A pipeline of a\n'
      printf 'fork gets no token to sign in to Exchange Online, so the files were validated and checked for\n'
      printf 'security posture only. A maintainer can push the branch to this repository to get a plan.\n'
      footer
    } > "$body"
    ;;
  none)
    {
      printf '%s\n## exoform plan\n\n' "$marker"
      printf ':white_check_mark: No plan needed: this @@REQUEST@@ changes no connector file and not exoform.yaml.\n'
      footer
    } > "$body"
    ;;
  plan)
    args=()
    if git rev-parse -q --verify --end-of-options "$base^{commit}" > /dev/null 2>&1; then
      args=(--base "$base")
    else
      echo "warning: the base commit is not in this clone: repairs are not told apart from the changes" >&2
    fi
    # The Markdown plan ends with its own footer (exoform version, and the commit it reads from GITHUB_SHA)
    GITHUB_SHA=${COMMIT_SHA:-} exoform plan --no-color --format markdown --out plan.json "${args[@]}" \
      2>&1 > plan.md | tee plan.err | defuse >&2
    code=${PIPESTATUS[0]}
    plan_comment "$body" "$code"
    rm -f plan.err
    ;;
esac
if [ "$valid" != 0 ] || [ "$code" != 0 ]; then exit 1; fi
