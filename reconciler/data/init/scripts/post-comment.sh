#!/usr/bin/env bash
# Written by `exoform init`.  Posts $1 as the pull request's plan comment, or updates the comment posted
# before (the one starting with the <!-- exoform-plan --> marker), so the pull request has one plan comment.
# With UPDATE_ONLY=true (no plan was needed) it only replaces an earlier comment, which would be stale.
#   GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER, UPDATE_ONLY
set -euo pipefail
set -f # nothing is a glob
body=$1
id=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq '.[] | select(.body | startswith("<!-- exoform-plan -->")) | .id' | sed -n 1p)
if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body" > /dev/null
  echo "Updated comment $id."
elif [ "${UPDATE_ONLY:-false}" = true ]; then
  echo "No plan comment to update: none posted."
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$body" > /dev/null
  echo "Posted the plan comment."
fi
