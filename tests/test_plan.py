"""Saved plan files: round trip, digest, tampering, truncation, foreign versions; fingerprints."""

from __future__ import annotations

import json
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.plan import (
    Change,
    Plan,
    TenantPlan,
    Unmanaged,
    fingerprint,
    plan_digest,
    read_plan,
    write_plan,
)


def sample_plan() -> Plan:
    change = Change(
        action="update",
        kind="OutboundConnector",
        name="To partner",
        fields=["tls_settings"],
        before={"name": "To partner", "tls_settings": None},
        after={"name": "To partner", "tls_settings": "DomainValidation"},
        fingerprint="sha256:abc",
        guid="g-1",
    )
    tplan = TenantPlan(
        tenant="contoso",
        target="exchange:contoso.onmicrosoft.com",
        changes=[change],
        unmanaged=[Unmanaged("InboundConnector", "Legacy")],
        existing_count=2,
    )
    return Plan([tplan])


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    loaded = read_plan(path)
    assert loaded.to_json() == sample_plan().to_json()
    data = json.loads(path.read_text())
    assert data["format_version"] == 1 and data["digest"].startswith("sha256:")
    assert data["tenants"][0]["changes"][0]["action"] == "update"


def test_plan_file_is_owner_readable_only(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_edited_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    path.write_text(path.read_text().replace("DomainValidation", "EncryptionOnly"))
    with pytest.raises(PlanError, match="edited after it was made"):
        read_plan(path)


def test_truncated_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(PlanError, match="invalid JSON at line"):
        read_plan(path)


def test_other_format_version_is_refused_with_advice(tmp_path: Path) -> None:
    body = sample_plan().to_json()
    body["format_version"] = 99
    from reconciler.plan import plan_digest

    body["digest"] = plan_digest(body)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match=r"format version 99.*make a new plan"):
        read_plan(path)


def test_not_a_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("[1, 2]")
    with pytest.raises(PlanError, match="no digest"):
        read_plan(path)
    with pytest.raises(PlanError, match="no such plan file"):
        read_plan(tmp_path / "missing.json")


def test_fingerprint_moves_with_managed_values_not_ignored_ones() -> None:
    base = fingerprint("g", {"comment": "a", "enabled": True})
    assert fingerprint("g", {"comment": "a", "enabled": True}) == base
    assert fingerprint("g", {"comment": "b", "enabled": True}) != base
    assert fingerprint("g2", {"comment": "a", "enabled": True}) != base
    ignored = frozenset({"comment"})
    assert fingerprint("g", {"comment": "a"}, ignored) == fingerprint("g", {"comment": "b"}, ignored)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(after=None), "has no 'after' values"),
        (lambda c: c["after"].pop("tls_settings"), "lacks values for ['tls_settings']"),
        (lambda c: c.update(guid=None), "has no guid or fingerprint"),
    ],
)
def test_change_without_what_apply_needs_is_refused(tmp_path: Path, edit: Any, message: str) -> None:
    from reconciler.plan import plan_digest

    body = sample_plan().to_json()
    edit(body["tenants"][0]["changes"][0])
    body["digest"] = plan_digest(body)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match=re.escape(message)):
        read_plan(path)


def test_a_failed_tenant_is_never_read_back_as_planned(tmp_path: Path) -> None:
    plan = sample_plan()
    plan.tenants.append(
        TenantPlan.failed_with("fabrikam", "exchange:fabrikam", "tenant fabrikam: sign-in failed")
    )
    data = plan.to_json()
    assert data["failed"] == 1 and not plan.tenants[1].changes
    assert [t["status"] for t in data["tenants"]] == ["planned", "failed"]
    path = tmp_path / "plan.json"
    write_plan(plan, path)  # exoform never saves such a plan; a hand-made one must still be refused
    with pytest.raises(PlanError, match="tenant 'fabrikam' failed to plan"):
        read_plan(path)


def test_a_plan_file_without_tenant_status_reads_as_planned(tmp_path: Path) -> None:
    from reconciler.plan import plan_digest

    body = sample_plan().to_json()
    for tenant in body["tenants"]:
        del tenant["status"], tenant["error"]
    del body["failed"]
    body["digest"] = plan_digest(body)
    (tmp_path / "old.json").write_text(json.dumps(body))
    (tenant,) = read_plan(tmp_path / "old.json").tenants
    assert tenant.status == "planned" and tenant.changes


# --- the digest: a checksum without a key, an integrity check with EXOFORM_PLAN_KEY -------------------------


def test_with_a_key_the_digest_is_an_hmac_that_a_recomputed_checksum_cannot_pass(tmp_path: Path) -> None:
    from reconciler.plan import plan_digest

    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path, b"k3y")
    assert json.loads(path.read_text())["digest"].startswith("hmac-sha256:")
    assert read_plan(path, b"k3y").to_json() == sample_plan().to_json()
    body = json.loads(path.read_text())
    del body["digest"]
    body["tenants"][0]["changes"][0]["after"]["tls_settings"] = "EncryptionOnly"
    body["digest"] = plan_digest(body)  # an attacker without the key recomputes the checksum
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match=r"carries only a checksum.*EXOFORM_PLAN_KEY, which is set"):
        read_plan(path, b"k3y")
    body["digest"] = plan_digest({k: v for k, v in body.items() if k != "digest"}, b"guess")
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match="integrity check mismatch: edited, or made with another key"):
        read_plan(path, b"k3y")


def test_an_hmac_plan_is_refused_where_the_key_is_not_set(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), path, b"k3y")
    with pytest.raises(PlanError, match="EXOFORM_PLAN_KEY, which is not set here"):
        read_plan(path)


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.plan import plan_key

    monkeypatch.delenv("EXOFORM_PLAN_KEY", raising=False)
    assert plan_key() is None
    monkeypatch.setenv("EXOFORM_PLAN_KEY", "s3cret")
    assert plan_key() == b"s3cret"


@pytest.mark.timeout(20)
def test_a_plan_file_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "plan.json")
    with pytest.raises(PlanError, match="named pipe"):
        read_plan(tmp_path / "plan.json")


def test_a_plan_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    from reconciler.plan import plan_digest

    body = sample_plan().to_json()
    body["tenants"][0]["changes"][0]["after"]["comment"] = json.loads("[" * 40 + "]" * 40)
    body["digest"] = plan_digest(body)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match="nested deeper than 16 levels"):
        read_plan(path)


def test_a_changes_cause_is_kept_in_the_plan_file_and_an_unknown_one_refused(tmp_path: Path) -> None:
    plan = sample_plan()
    plan.tenants[0].changes[0] = replace(plan.tenants[0].changes[0], cause="repair")
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path).tenants[0].changes[0].cause == "repair"
    body = json.loads(path.read_text())
    body["tenants"][0]["changes"][0]["cause"] = "admin center"
    body.pop("digest")
    body["digest"] = plan_digest(body)
    path.write_text(json.dumps(body))
    with pytest.raises(PlanError, match=r"tenants\.0\.changes\.0\.cause"):
        read_plan(path)
