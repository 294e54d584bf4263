"""Microsoft365DSC configurations: the resource's own examples (verbatim in tests/fixtures/m365dsc/examples/)
and an export-style configuration import without PowerShell; what cannot be read is a located error."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.adopt.importer import m365dsc, read_file
from tests.adopt.importer.shapes import FIXTURES
from tests.adopt.importer.test_json import imported, live_view

EXAMPLES = FIXTURES / "m365dsc" / "examples"

#: What a tenant holds after each example is applied: the Get objects, as the service would return them.
APPLIED: dict[str, tuple[str, dict[str, Any]]] = {
    "EXOInboundConnector.1-Create.ps1": (
        "InboundConnector",
        {
            "Name": "Integration Inbound Connector",
            "CloudServicesMailEnabled": False,
            "Comment": "Inbound connector for Integration",
            "ConnectorType": "Partner",
            "Enabled": True,
            "RequireTls": True,
            "SenderDomains": ["smtp:*.contoso.com;1"],
            "TlsSenderCertificateName": "contoso.com",
        },
    ),
    "EXOOutboundConnector.1-Create.ps1": (
        "OutboundConnector",
        {
            "Name": "Contoso Outbound Connector",
            "AllAcceptedDomains": False,
            "CloudServicesMailEnabled": False,
            "Comment": "Outbound connector to Contoso",
            "ConnectorType": "Partner",
            "Enabled": True,
            "IsTransportRuleScoped": False,
            "RecipientDomains": ["contoso.com"],
            "RouteAllMessagesViaOnPremises": False,
            "TlsDomain": "*.contoso.com",
            "TlsSettings": "DomainValidation",
            "UseMXRecord": True,
        },
    ),
}
APPLIED["EXOInboundConnector.2-Update.ps1"] = (
    "InboundConnector",
    {**APPLIED["EXOInboundConnector.1-Create.ps1"][1], "Enabled": False},
)
APPLIED["EXOOutboundConnector.2-Update.ps1"] = (
    "OutboundConnector",
    {**APPLIED["EXOOutboundConnector.1-Create.ps1"][1], "Enabled": False},
)


@pytest.mark.parametrize("example", sorted(APPLIED))
def test_the_official_examples_import_as_the_connector_they_make(example: str) -> None:
    kind, obj = APPLIED[example]
    result = read_file(EXAMPLES / example, example)
    assert result.source == "m365dsc"
    [item] = imported(result).values()
    assert (item.kind, item.name) == (kind, obj["Name"])
    assert item.connector is not None, item.skipped
    assert item.connector.managed_fields() == live_view(kind, obj)
    # Credentials ($ApplicationId, $Credscredential), Ensure and ConnectorSource: ignored, not reported.
    assert item.unknown == () and item.dropped == () and item.defaults == ()
    assert item.where.startswith(f"{example}:") and item.where.endswith(":9")


@pytest.mark.parametrize("example", ["EXOInboundConnector.3-Remove.ps1", "EXOOutboundConnector.3-Remove.ps1"])
def test_ensure_absent_is_reported_and_skipped(example: str) -> None:
    [item] = read_file(EXAMPLES / example, example).found
    assert item.connector is None
    assert item.skipped is not None and item.skipped.startswith(
        'Ensure = "Absent": the configuration removes'
    )


def test_the_older_inconsistent_examples_import_with_their_credential_ignored() -> None:
    example = "EXOInboundConnector.1-ConfigureInboundConnector.779ce98.ps1"
    [item] = read_file(EXAMPLES / example, example).found
    assert item.connector is not None
    assert item.connector.treat_messages_as_internal and item.connector.cloud_services_mail_enabled
    assert item.dropped == ()  # Credential = $Credscredential is not reported as unresolved


EXPORTED = """\
# Generated with Microsoft365DSC version 1.24.1016.1
param (
)

Configuration M365TenantConfig
{
    $OrganizationName = $ConfigurationData.NonNodeData.OrganizationName
    <# A block comment that mentions EXOInboundConnector "x" { Identity = 1 } #>
    Import-DscResource -ModuleName 'Microsoft365DSC' -ModuleVersion '1.24.1016.1'
    Import-DscResource -ModuleName Microsoft365DSC -Name EXOInboundConnector, EXOOutboundConnector

    Node localhost
    {
        EXOInboundConnector "EXOInboundConnector-Fabrikam filter"
        {
            ApplicationId                = $ConfigurationData.NonNodeData.ApplicationId;
            AssociatedAcceptedDomains    = @();
            CertificateThumbprint        = $ConfigurationData.NonNodeData.CertificateThumbprint;
            Comment                      = "Mail from `"Fabrikam`" for $OrganizationName`nsecond line";
            ConnectorSource              = "AdminUI";
            ConnectorType                = 'Partner';
            EFSkipIPs                    = [System.String[]]@("198.51.100.0/25")
            EFSkipLastIP                 = $False;
            Enabled                      = $True;
            Ensure                       = "Present";
            Identity                     = 'Fabrikam''s filter';
            RequireTls                   = $True;
            RestrictDomainsToIPAddresses = $true;
            SenderDomains                = "smtp:*;1";
            SenderIPAddresses            = @(
                "198.51.100.0/25",
                "198.51.100.128/25"
                '203.0.113.0/24'
            );
            TenantId                     = $OrganizationName;
            TlsSenderCertificateName     = $null;
        }
        EXOOutboundConnector 'EXOOutboundConnector-To filter'
        {
            Identity           = "To filter in $($OrganizationName)"
            ConnectorType      = "Partner"
            RecipientDomains   = "*"
            SmartHosts         = "relay1.mailfilter.example.net", "relay2.mailfilter.example.net"
            UseMxRecord        = $false
            TlsSettings        = "CertificateValidation"
            Comment            = @"
Routed through the filter.
  Since 2024.
"@
            Ensure             = "Present"
            Credential         = $Credsglobaladmin
        }
        EXOAcceptedDomain "contoso.com" { Identity = "contoso.com" }
    }
}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "M365TenantConfig.ps1"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_exported_configuration_reads_every_value_form(tmp_path: Path) -> None:
    result = read_file(
        write(tmp_path, EXPORTED), "cfg.ps1", variables={"organizationName": "contoso.onmicrosoft.com"}
    )
    found = imported(result)
    inbound = found["InboundConnector", "Fabrikam's filter"]
    assert inbound.where == "cfg.ps1:14:9"
    assert inbound.connector is not None
    fields = inbound.connector.managed_fields()
    assert fields["comment"] == 'Mail from "Fabrikam" for contoso.onmicrosoft.com\nsecond line'
    assert fields["sender_domains"] == ["*"]
    assert fields["sender_ip_addresses"] == ["198.51.100.0/25", "198.51.100.128/25", "203.0.113.0/24"]
    assert fields["ef_skip_ips"] == ["198.51.100.0/25"]
    assert fields["restrict_domains_to_ip_addresses"] is True
    assert fields["tls_sender_certificate_name"] is None
    assert inbound.unknown == () and inbound.dropped == ()
    assert inbound.connector_source == "AdminUI"
    outbound = found["OutboundConnector", "To filter in contoso.onmicrosoft.com"]
    assert outbound.connector is not None
    out = outbound.connector.managed_fields()
    assert out["smart_hosts"] == ["relay1.mailfilter.example.net", "relay2.mailfilter.example.net"]
    assert out["use_mx_record"] is False
    assert out["comment"] == "Routed through the filter.\n  Since 2024."


def test_unresolved_references_are_reported_not_guessed(tmp_path: Path) -> None:
    found = {(i.kind, i.name): i for i in read_file(write(tmp_path, EXPORTED), "cfg.ps1").found}
    inbound = found["InboundConnector", "Fabrikam's filter"]
    assert inbound.connector is not None
    assert inbound.connector.comment == ""
    assert inbound.dropped == (
        "Comment: refers to $OrganizationName, which the file does not define (--var OrganizationName=VALUE)",
    )
    [outbound] = [i for (kind, _), i in found.items() if kind == "OutboundConnector"]
    assert outbound.connector is None and outbound.name is None
    assert outbound.skipped == "its name is an unresolved reference; give it with --var"
    assert outbound.dropped == (
        "Identity: refers to $($OrganizationName), which the file does not define (a PowerShell expression "
        "exoform does not run; put the value in the file)",
    )


@pytest.mark.parametrize(
    ("block", "where", "message"),
    [
        ('Identity = "Relay\n', "5:20", "unterminated string"),
        ("Identity = 'x'\n            Comment = Get-Date", "6:23", "cannot read 'Get-Date' as a value"),
        ("Identity = 'x'\n            Comment = @{ a = 1 }", "6:23", "a hashtable is not a value"),
        ("Identity 'x'", "5:18", "expected '=' after 'Identity'"),
        ("Identity = 'x'\n            identity = 'y'", "6:13", "'identity' is set twice (first at line 5)"),
        ("Identity = 'x' + 'y'", "5:24", "unexpected '+' after the value of 'Identity'"),
        ("SenderDomains = @('a', 'b'", "6:5", "the array opened at line 5 is not closed"),
    ],
)
def test_an_unparsable_block_is_a_located_error(tmp_path: Path, block: str, where: str, message: str) -> None:
    text = textwrap.dedent(
        """\
        Node localhost
        {
            EXOInboundConnector "Broken"
            {
                BLOCK
            }
        }
        """
    ).replace("BLOCK", block)
    result = read_file(write(tmp_path, text), "cfg.ps1")
    assert result.found == []
    [problem] = result.problems
    assert str(problem).startswith(f"cfg.ps1:{where}: error: {message}"), str(problem)


def test_a_block_that_is_never_closed_is_a_located_error(tmp_path: Path) -> None:
    text = 'EXOOutboundConnector "Open"\n{\n    Identity = "Open"\n'
    [problem] = read_file(write(tmp_path, text), "cfg.ps1").problems
    assert str(problem) == (
        "cfg.ps1:3:22: error: the EXOOutboundConnector block opened at line 2 is not closed "
        "(the file ends here)"
    )


_PIECES = st.sampled_from(
    [
        "EXOInboundConnector ",
        "EXOOutboundConnector ",
        '"x"',
        "'y'",
        "{",
        "}",
        "(",
        ")",
        "@(",
        "@{",
        "=",
        ",",
        ";",
        "\n",
        "\r",
        "`",
        "`\n",
        "$",
        "$(",
        "$a.b",
        "${z}",
        '@"\n',
        '\n"@',
        "@'\n",
        "\n'@",
        "<#",
        "#>",
        "#",
        "Identity",
        "Enabled",
        "$true",
        "12",
        "[string[]]",
        "[",
        "]",
        '""',
        "''",
        " ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=3), max_size=40))
def test_any_text_gives_connectors_or_located_problems(pieces: list[str]) -> None:
    found, problems = m365dsc.read("".join(pieces), "f.ps1", {"a.b": "v"})
    assert not (found and problems)
    for problem in problems:
        assert problem.location.line >= 1 and problem.location.column >= 1


EARLY_EXPORT = """\
Configuration M365TenantConfig
{
    param (
        [parameter()]
        [System.Management.Automation.PSCredential]
        $GlobalAdminAccount
    )
    Import-DSCResource -ModuleName Microsoft365DSC
    Node localhost
    {
        EXOInboundConnector 8c1b0e5e-4e3a-4b8f-9d2c-0f6a1b2c3d4e
        {
            Identity           = "Partner TLS"
            ConnectorType      = "Partner"
            SenderDomains      = @("fabrikam.com")
            RequireTls         = $True
            Ensure             = "Present"
            GlobalAdminAccount = $Credsglobaladmin
        }
        EXOOutboundConnector f2a4c6e8-0b1d-4f3a-8c5e-7a9b1c3d5e7f
        {
            Identity           = "To partner"
            ConnectorType      = "Partner"
            RecipientDomains   = @("fabrikam.com")
            Ensure             = "Present"
            GlobalAdminAccount = $Credsglobaladmin
        }
    }
}
"""


def test_an_early_export_with_unquoted_guid_labels_imports_and_ignores_its_credential(tmp_path: Path) -> None:
    """Early Microsoft365DSC exports label blocks with a bare GUID (one starting with a digit, too) and
    sign in with ``GlobalAdminAccount``: both import, and the credential is ignored, never reported."""
    result = read_file(write(tmp_path, EARLY_EXPORT), "early.ps1")
    assert result.problems == []
    found = imported(result)
    assert sorted(found) == [("InboundConnector", "Partner TLS"), ("OutboundConnector", "To partner")]
    for item in found.values():
        assert item.connector is not None, item.skipped
        assert item.dropped == () and item.unknown == ()
    assert found["InboundConnector", "Partner TLS"].where == "early.ps1:11:9"


class _CountingText(str):
    """Text that counts how many characters the lexer's searches for line ends walk over."""

    walked = 0

    def count(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        _CountingText.walked += (len(self) if end is None else end) - (start or 0)
        return super().count(sub, start, end)

    def rfind(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        _CountingText.walked += (len(self) if end is None else end) - (start or 0)
        return super().rfind(sub, start, end)


@pytest.mark.parametrize("make", ["dsc_plain_lines", "dsc_unclosed_variables", "dsc_block_values"])
def test_lexing_is_linear_in_the_files_length(make: str) -> None:
    """A script of plain lines took 35 s at 400 KB: every token counted lines from the start of the file.
    Counted, not timed: 4x the text walks about 4x the characters (quadratic would be 16x)."""
    import bench.parsing

    walked = []
    for size in (8 << 10, 32 << 10):
        _CountingText.walked = 0
        m365dsc.read(_CountingText(getattr(bench.parsing, make)(size)), "x.ps1", {})
        walked.append(_CountingText.walked)
    assert walked[1] < 6 * walked[0], walked
    small, large = bench.parsing.times(bench.parsing.through_dsc, getattr(bench.parsing, make), 16 << 10)
    assert large < 10 * small + 0.05, (small, large)
