# shellcheck shell=bash
# Written by `exoform init`.  Sourced by the exoform scripts of this folder, never run.

# exoform.yaml's rule for tenant names: a name breaking it is never planned, applied or written to a path.
name_re='^@@TENANT_NAME_RE@@$'
is_tenant() { [[ $1 =~ $name_re ]]; }

# Untrusted text (exoform's messages quote connector names) on its way to the CI log: a line can never
# hold a logging command (Azure Pipelines acts on `##vso[` and `##[` anywhere in a line).
defuse() { sed -e 's/##/#\&#35;/g'; }

# md_name NAME: a name as literal Markdown (of the characters the rule allows, only '_' could format).
md_name() { printf '<code>%s</code>' "${1//_/"&#95;"}"; }

# list_tenants FILE: every tenant of exoform.yaml, one a line (names hold no newline: the rule).
list_tenants() { exoform tenants > "$1"; }

exoform_version() { exoform --version | sed -n 's/^exoform, version //p'; }
