#!/usr/bin/env python3
# Written by `exoform init`.  Talks to the hosting service of an Azure DevOps or GitLab repository for
# the exoform pipelines: the one plan comment of a pull/merge request, and one drift work item or issue
# per tenant.  Python's standard library only (the job has Python for exoform); TLS is always verified.
"""exoform's pipeline helpers for Azure DevOps and GitLab (the scripts ``exoform init --ci`` writes).

    hosting.py ado-comment BODY          # the plan comment of an Azure Repos pull request (a thread)
    hosting.py ado-work-items DRIFT      # one work item per drifted tenant
    hosting.py gitlab-note BODY          # the plan note of a GitLab merge request
    hosting.py gitlab-issues DRIFT       # one issue per drifted tenant

``BODY.scope`` (from pr-plan.sh) says what BODY is: ``plan`` (post or update it), ``none`` (no plan was
needed: only replace an earlier comment, which would be stale) or ``fork`` (nothing is posted: a fork's
pipeline has no token that may comment).  DRIFT is drift-tenants.sh's folder: ``tenants`` (the names,
one a line) and ``<tenant>.code`` / ``<tenant>.md`` for each.

A drifted tenant (code 2) gets its item opened, or its description updated when it changed; a tenant
without drift (0) gets its item closed with a comment; a tenant that could not be checked keeps its item
as it is; an open item of a tenant no longer in exoform.yaml is closed.  Names in comments are escaped
(Markdown); a name that breaks exoform.yaml's rule is skipped.  Exits 1 on any refused request, naming it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- exoform-plan -->"
PREFIX = "exoform drift: "
LABEL = "exoform-drift"
TENANT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # exoform.yaml's rule
_MARKDOWN = re.compile(r"[&<>|`*_\[\]\\~#@\r\n\t]")
MAX_RESPONSE = 16 * 1024 * 1024
TIMEOUT = 60


class Refused(Exception):
    """A request the service refused or could not answer (the message names it, never a token)."""


def say(text: str) -> None:
    """One line to the job's log (the text is exoform's own or a checked tenant name)."""
    sys.stdout.write(text + "\n")


def code(text: str) -> str:
    """``text`` as literal Markdown: every character that could format, link or mention is a reference."""
    return "<code>" + _MARKDOWN.sub(lambda m: f"&#{ord(m.group())};", text) + "</code>"


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Refused(f"{name} is not set")
    return value


class Api:
    """JSON over HTTPS with one token; ``base`` is the URL every path is relative to."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base.rstrip("/") + "/"
        self.headers = headers

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[Any, dict[str, str]]:
        url = urllib.parse.urljoin(self.base, path)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=dict(self.headers))
        if data is not None:
            request.add_header("Content-Type", content_type)
        shown = f"{method} {url.split('?', 1)[0]}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read(MAX_RESPONSE + 1)
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            raise Refused(f"{shown}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Refused(f"{shown}: {exc}") from None
        if len(raw) > MAX_RESPONSE:
            raise Refused(f"{shown}: the answer is over {MAX_RESPONSE} bytes")
        try:
            return (json.loads(raw) if raw.strip() else None), headers
        except ValueError:
            raise Refused(f"{shown}: the answer is not JSON") from None


@dataclass(frozen=True)
class Item:
    """An open drift work item or issue: its number, title and description."""

    number: int
    title: str
    body: str


@dataclass(frozen=True)
class Action:
    """``create`` (title, body), ``edit`` (number, body) or ``close`` (number, comment)."""

    kind: str
    target: str
    text: str


def decide(drift: Path, open_items: list[Item], run: str) -> list[Action]:
    """What to do with the drift items, from drift-tenants.sh's folder (see the module contract)."""
    tenants = (drift / "tenants").read_text(encoding="utf-8").splitlines()
    by_title = {item.title: item for item in sorted(open_items, key=lambda i: i.number, reverse=True)}
    actions: list[Action] = []
    for tenant in tenants:
        if not TENANT_NAME.fullmatch(tenant):
            say("A name that breaks the rule of tenant names was skipped.")
            continue
        item = by_title.get(PREFIX + tenant)
        try:
            outcome = (drift / f"{tenant}.code").read_text(encoding="utf-8").strip()
        except OSError:
            outcome = "missing"
        if outcome == "2":
            body = (drift / f"{tenant}.md").read_text(encoding="utf-8")
            if item is None:
                actions.append(Action("create", PREFIX + tenant, body))
            elif item.body != body:
                actions.append(Action("edit", str(item.number), body))
        elif outcome == "0":
            if item is not None:
                text = (
                    f"No drift any more in {code(tenant)}: the tenant matches the files (checked by {run}).\n"
                )
                actions.append(Action("close", str(item.number), text))
        else:
            say(f"Tenant {tenant} could not be checked ({outcome}): its item is left as it is.")
    known = set(tenants)
    for item in sorted(open_items, key=lambda i: i.number):
        name = item.title.removeprefix(PREFIX)
        if item.title.startswith(PREFIX) and name not in known:
            text = f"Tenant {code(name)} is no longer in exoform.yaml: closing its drift item ({run}).\n"
            actions.append(Action("close", str(item.number), text))
    return actions


def _scope(body: Path) -> str:
    scope = Path(f"{body}.scope")
    return scope.read_text(encoding="utf-8").strip() if scope.exists() else "plan"


def _run_url() -> str:
    return os.environ.get("RUN_URL") or "this run"


# ------------------------------------------------------------------------------------------ Azure DevOps


def _ado() -> Api:
    """The Azure DevOps REST API of this project, with the job's System.AccessToken."""
    base = env("SYSTEM_COLLECTIONURI").rstrip("/") + "/" + urllib.parse.quote(env("SYSTEM_TEAMPROJECTID"))
    return Api(base, {"Authorization": f"Bearer {env('SYSTEM_ACCESSTOKEN')}", "Accept": "application/json"})


def ado_comment(body: Path) -> None:
    """Posts ``body`` as the pull request's plan thread, or updates the comment posted before."""
    scope = _scope(body)
    if scope == "fork":
        say("A pull request from a fork: its pipeline may not comment; the plan comment is skipped.")
        return
    api = _ado()
    repo = urllib.parse.quote(env("BUILD_REPOSITORY_ID"))
    pr = urllib.parse.quote(env("SYSTEM_PULLREQUEST_PULLREQUESTID"))
    threads = f"_apis/git/repositories/{repo}/pullRequests/{pr}/threads"
    listed, _ = api.call("GET", f"{threads}?api-version=7.1")
    found = [
        (thread["id"], comment["id"])
        for thread in (listed or {}).get("value", [])
        for comment in thread.get("comments", [])[:1]
        if str(comment.get("content", "")).startswith(MARKER)
    ]
    text = body.read_text(encoding="utf-8")
    if found:
        thread_id, comment_id = found[0]
        api.call("PATCH", f"{threads}/{thread_id}/comments/{comment_id}?api-version=7.1", {"content": text})
        say(f"Updated the plan comment (thread {thread_id}).")
    elif scope == "none":
        say("No plan comment to update: none posted.")
    else:
        new = {"comments": [{"parentCommentId": 0, "content": text, "commentType": 1}]}
        api.call("POST", f"{threads}?api-version=7.1", new)
        say("Posted the plan comment.")


def ado_work_items(drift: Path) -> None:
    """One work item per drifted tenant (type EXOFORM_WORK_ITEM_TYPE, default Issue; closed by setting
    the state EXOFORM_CLOSED_STATE, default Done), tagged exoform-drift; descriptions are Markdown."""
    api = _ado()
    kind = os.environ.get("EXOFORM_WORK_ITEM_TYPE") or "Issue"
    closed = os.environ.get("EXOFORM_CLOSED_STATE") or "Done"
    for value in (kind, closed):
        if not re.fullmatch(r"[A-Za-z][A-Za-z ]{0,63}", value):
            raise Refused("EXOFORM_WORK_ITEM_TYPE and EXOFORM_CLOSED_STATE are names (letters and spaces)")
    query = (
        "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
        f"AND [System.Tags] CONTAINS '{LABEL}' AND [System.State] <> '{closed}' "
        "AND [System.State] <> 'Removed' AND [System.Title] CONTAINS 'exoform drift' ORDER BY [System.Id]"
    )
    found, _ = api.call("POST", "_apis/wit/wiql?api-version=7.1", {"query": query})
    ids = [int(w["id"]) for w in (found or {}).get("workItems", [])]
    items: list[Item] = []
    for start in range(0, len(ids), 200):
        batch = ",".join(str(i) for i in ids[start : start + 200])
        fields = "System.Title,System.Description"
        got, _ = api.call("GET", f"_apis/wit/workitems?ids={batch}&fields={fields}&api-version=7.1")
        for work in (got or {}).get("value", []):
            f = work.get("fields", {})
            items.append(
                Item(int(work["id"]), str(f.get("System.Title", "")), str(f.get("System.Description", "")))
            )
    patch = "application/json-patch+json"
    for action in decide(drift, items, _run_url()):
        if action.kind == "create":
            ops = [
                {"op": "add", "path": "/fields/System.Title", "value": action.target},
                {"op": "add", "path": "/fields/System.Description", "value": action.text},
                {"op": "add", "path": "/multilineFieldsFormat/System.Description", "value": "Markdown"},
                {"op": "add", "path": "/fields/System.Tags", "value": LABEL},
            ]
            wit = urllib.parse.quote(kind)
            api.call("POST", f"_apis/wit/workitems/${wit}?api-version=7.1", ops, patch)
            say(f"Opened a work item: {action.target}")
        elif action.kind == "edit":
            ops = [
                {"op": "add", "path": "/fields/System.Description", "value": action.text},
                {"op": "add", "path": "/multilineFieldsFormat/System.Description", "value": "Markdown"},
            ]
            api.call("PATCH", f"_apis/wit/workitems/{action.target}?api-version=7.1", ops, patch)
            say(f"Updated work item {action.target}.")
        else:
            ops = [
                {"op": "add", "path": "/fields/System.State", "value": closed},
                {"op": "add", "path": "/fields/System.History", "value": action.text},
            ]
            api.call("PATCH", f"_apis/wit/workitems/{action.target}?api-version=7.1", ops, patch)
            say(f"Closed work item {action.target}.")


# ------------------------------------------------------------------------------------------------ GitLab


def _gitlab() -> Api:
    """The GitLab REST API of this project, with the project access token EXOFORM_GITLAB_TOKEN (the
    job's CI_JOB_TOKEN may not write notes or issues)."""
    base = env("CI_API_V4_URL").rstrip("/") + "/projects/" + urllib.parse.quote(env("CI_PROJECT_ID"), safe="")
    return Api(base, {"PRIVATE-TOKEN": env("EXOFORM_GITLAB_TOKEN"), "Accept": "application/json"})


def _pages(api: Api, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = "1"
    while page:
        separator = "&" if "?" in path else "?"
        data, headers = api.call("GET", f"{path}{separator}per_page=100&page={urllib.parse.quote(page)}")
        found += list(data or [])
        page = headers.get("x-next-page", "")
    return found


def gitlab_note(body: Path) -> None:
    """Posts ``body`` as the merge request's plan note, or updates the note posted before."""
    scope = _scope(body)
    if scope == "fork" or not os.environ.get("EXOFORM_GITLAB_TOKEN"):
        say("No EXOFORM_GITLAB_TOKEN (a fork's pipeline, or not set up): the plan note is skipped.")
        return
    api = _gitlab()
    notes = f"merge_requests/{urllib.parse.quote(env('CI_MERGE_REQUEST_IID'))}/notes"
    ids = [n["id"] for n in _pages(api, notes) if str(n.get("body", "")).startswith(MARKER)]
    text = body.read_text(encoding="utf-8")
    if ids:
        api.call("PUT", f"{notes}/{int(ids[0])}", {"body": text})
        say(f"Updated note {int(ids[0])}.")
    elif scope == "none":
        say("No plan note to update: none posted.")
    else:
        api.call("POST", notes, {"body": text})
        say("Posted the plan note.")


def gitlab_issues(drift: Path) -> None:
    """One issue per drifted tenant, labelled exoform-drift."""
    api = _gitlab()
    listed = _pages(api, f"issues?state=opened&labels={LABEL}")
    items = [Item(int(i["iid"]), str(i.get("title", "")), str(i.get("description") or "")) for i in listed]
    for action in decide(drift, items, _run_url()):
        if action.kind == "create":
            api.call("POST", "issues", {"title": action.target, "description": action.text, "labels": LABEL})
            say(f"Opened an issue: {action.target}")
        elif action.kind == "edit":
            api.call("PUT", f"issues/{action.target}", {"description": action.text})
            say(f"Updated issue {action.target}.")
        else:
            api.call("POST", f"issues/{action.target}/notes", {"body": action.text})
            api.call("PUT", f"issues/{action.target}", {"state_event": "close"})
            say(f"Closed issue {action.target}.")


COMMANDS = {
    "ado-comment": ado_comment,
    "ado-work-items": ado_work_items,
    "gitlab-note": gitlab_note,
    "gitlab-issues": gitlab_issues,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        sys.stderr.write(f"usage: hosting.py {{{'|'.join(COMMANDS)}}} PATH\n")
        return 2
    try:
        COMMANDS[argv[0]](Path(argv[1]))
    except Refused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
