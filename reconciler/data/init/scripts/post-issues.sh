#!/usr/bin/env bash
# Written by `exoform init`.  Carries out $1/actions.tsv (from drift-issues.sh) with gh: a created issue
# gets the line's label (exoform-drift when it names none).
#   GH_TOKEN, GITHUB_REPOSITORY (gh reads both)
set -euo pipefail
set -f # nothing is a glob
dir=$1
if grep -q '^create' "$dir/actions.tsv"; then
  gh label create exoform-drift --color D93F0B --description "exoform found drift" --force
fi
if grep -q $'^create\t.*\texoform-cannot-check$' "$dir/actions.tsv"; then
  gh label create exoform-cannot-check --color FBCA04 --description "exoform could not check a tenant" --force
fi
while IFS=$'\t' read -r action target file label; do
  case $action in
    create) gh issue create --title "$target" --label "${label:-exoform-drift}" --body-file "$dir/$file" ;;
    edit) gh issue edit "$target" --body-file "$dir/$file" ;;
    close) gh issue close "$target" --comment "$(cat "$dir/$file")" ;;
  esac
done < "$dir/actions.tsv"
