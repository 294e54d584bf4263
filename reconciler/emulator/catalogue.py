"""The emulator's own catalogue of cmdlets, parameters, properties and defaults.

It follows the service's documented behaviour (docs/emulator.md, "Cmdlets and their rules"),
independently of ``reconciler.model``: the emulator plays the service, so a mistake in the client's
catalogue shows up as a disagreement instead of being mirrored.

Defaults the service's documentation leaves UNCONFIRMED, and the choice made here (docs/emulator.md,
"Defaults the emulator assumes"):

- ``ConnectorType`` on New (both kinds): ``Partner``.
- ``RequireTls`` on New-InboundConnector: ``true`` (what the cmdlet documentation says).
- ``CloudServicesMailEnabled``: ``false``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Type(Enum):
    """How a parameter value is bound."""

    STRING = "string"  # a string, or null where the property is nullable
    BOOL = "bool"
    MULTI = "multi"  # a list of strings (a single string is taken as a one-element list)
    ENUM = "enum"
    GUID = "guid"
    DATETIME = "datetime"
    RESULT_SIZE = "resultsize"  # "Unlimited" or a positive integer
    IDENTITY = "identity"


@dataclass(frozen=True)
class Param:
    """One cmdlet parameter."""

    name: str
    type: Type
    values: tuple[str, ...] = ()  # for ENUM: the accepted values, canonical spelling
    nullable: bool = False
    type_name: str = ""  # for ENUM: the .NET type errors name


#: The .NET types of the enum parameters, as the service names them in errors.
ENUM_TYPES = {
    "ConnectorType": "Microsoft.Exchange.Data.TenantConnectorType",
    "ConnectorSource": "Microsoft.Exchange.Data.TenantConnectorSource",
    "TlsSettings": "Microsoft.Exchange.Data.TlsAuthLevel",
    "MtaStsMode": "Microsoft.Exchange.Data.MtaStsMode",
    "SmtpDaneMode": "Microsoft.Exchange.Data.SmtpDaneMode",
}


def _p(name: str, type_: Type, *values: str, nullable: bool = False) -> Param:
    return Param(name, type_, tuple(values), nullable, ENUM_TYPES.get(name, ""))


CONNECTOR_TYPES = ("Partner", "OnPremises")
CONNECTOR_SOURCES = ("Default", "HybridWizard", "Migrated")
TLS_SETTINGS = ("EncryptionOnly", "CertificateValidation", "DomainValidation")
MTA_STS_MODES = ("Opportunistic", "None")
SMTP_DANE_MODES = ("Opportunistic", "Mandatory", "None")

_COMMON_WRITE = [_p("Confirm", Type.BOOL), _p("WhatIf", Type.BOOL)]

_INBOUND_SETTABLE = [
    _p("SenderDomains", Type.MULTI),
    _p("SenderIPAddresses", Type.MULTI),
    _p("AssociatedAcceptedDomains", Type.MULTI),
    _p("CloudServicesMailEnabled", Type.BOOL),
    _p("Comment", Type.STRING, nullable=True),
    _p("ConnectorSource", Type.ENUM, *CONNECTOR_SOURCES),
    _p("ConnectorType", Type.ENUM, *CONNECTOR_TYPES),
    _p("EFSkipIPs", Type.MULTI),
    _p("EFSkipLastIP", Type.BOOL),
    _p("EFUsers", Type.MULTI),
    _p("EFTestMode", Type.BOOL),
    _p("EFSkipMailGateway", Type.MULTI),
    _p("Enabled", Type.BOOL),
    _p("RequireTls", Type.BOOL),
    _p("RestrictDomainsToCertificate", Type.BOOL),
    _p("RestrictDomainsToIPAddresses", Type.BOOL),
    _p("ScanAndDropRecipients", Type.MULTI),
    _p("TlsSenderCertificateName", Type.STRING, nullable=True),
    _p("TreatMessagesAsInternal", Type.BOOL),
    _p("TrustedOrganizations", Type.MULTI),
]

_OUTBOUND_SETTABLE = [
    _p("RecipientDomains", Type.MULTI),
    _p("SmartHosts", Type.MULTI),
    _p("UseMXRecord", Type.BOOL),
    _p("TlsSettings", Type.ENUM, *TLS_SETTINGS, nullable=True),
    _p("TlsDomain", Type.STRING, nullable=True),
    _p("ConnectorType", Type.ENUM, *CONNECTOR_TYPES),
    _p("ConnectorSource", Type.ENUM, *CONNECTOR_SOURCES),
    _p("AllAcceptedDomains", Type.BOOL),
    _p("RouteAllMessagesViaOnPremises", Type.BOOL),
    _p("SenderRewritingEnabled", Type.BOOL),
    _p("CloudServicesMailEnabled", Type.BOOL),
    _p("IsTransportRuleScoped", Type.BOOL),
    _p("TestMode", Type.BOOL),
    _p("Enabled", Type.BOOL),
    _p("Comment", Type.STRING, nullable=True),
    _p("MtaStsMode", Type.ENUM, *MTA_STS_MODES),
    _p("SmtpDaneMode", Type.ENUM, *SMTP_DANE_MODES),
]


def _table(params: list[Param]) -> dict[str, Param]:
    """Parameters keyed by casefolded name (parameter names are case-insensitive on input)."""
    return {p.name.casefold(): p for p in params}


#: cmdlet name (canonical spelling) -> its parameters keyed by casefolded name
CMDLETS: dict[str, dict[str, Param]] = {
    "Get-InboundConnector": _table([_p("Identity", Type.IDENTITY), _p("ResultSize", Type.RESULT_SIZE)]),
    "New-InboundConnector": _table(
        [_p("Name", Type.STRING), _p("ClientHostNames", Type.MULTI), *_INBOUND_SETTABLE, *_COMMON_WRITE]
    ),
    "Set-InboundConnector": _table(
        [_p("Identity", Type.IDENTITY), _p("Name", Type.STRING), *_INBOUND_SETTABLE, *_COMMON_WRITE]
    ),
    "Remove-InboundConnector": _table([_p("Identity", Type.IDENTITY), *_COMMON_WRITE]),
    "Get-OutboundConnector": _table(
        [
            _p("Identity", Type.IDENTITY),
            _p("IncludeTestModeConnectors", Type.BOOL),
            _p("IsTransportRuleScoped", Type.BOOL),
            _p("ResultSize", Type.RESULT_SIZE),
        ]
    ),
    "New-OutboundConnector": _table(
        [
            _p("Name", Type.STRING),
            _p("LinkForModifiedConnector", Type.GUID, nullable=True),
            *_OUTBOUND_SETTABLE,
            *_COMMON_WRITE,
        ]
    ),
    "Set-OutboundConnector": _table(
        [
            _p("Identity", Type.IDENTITY),
            _p("Name", Type.STRING),
            _p("ValidationRecipients", Type.MULTI),
            _p("IsValidated", Type.BOOL),
            _p("LastValidationTimestamp", Type.DATETIME, nullable=True),
            *_OUTBOUND_SETTABLE,
            *_COMMON_WRITE,
        ]
    ),
    "Remove-OutboundConnector": _table([_p("Identity", Type.IDENTITY), *_COMMON_WRITE]),
    "Validate-OutboundConnector": _table(
        [_p("Identity", Type.IDENTITY), _p("Recipients", Type.MULTI), *_COMMON_WRITE]
    ),
    "Get-AcceptedDomain": _table([_p("Identity", Type.IDENTITY), _p("ResultSize", Type.RESULT_SIZE)]),
}

#: cmdlet -> parameters it cannot run without (canonical spelling)
MANDATORY: dict[str, tuple[str, ...]] = {
    "New-InboundConnector": ("Name", "SenderDomains"),
    "Set-InboundConnector": ("Identity",),
    "Remove-InboundConnector": ("Identity",),
    "New-OutboundConnector": ("Name",),
    "Set-OutboundConnector": ("Identity",),
    "Remove-OutboundConnector": ("Identity",),
    "Validate-OutboundConnector": ("Identity", "Recipients"),
}

#: cmdlets that change state (faults can target "writes only")
WRITE_CMDLETS = frozenset(
    {
        "New-InboundConnector",
        "Set-InboundConnector",
        "Remove-InboundConnector",
        "New-OutboundConnector",
        "Set-OutboundConnector",
        "Remove-OutboundConnector",
        "Validate-OutboundConnector",
    }
)

CMDLET_NAMES = {name.casefold(): name for name in CMDLETS}

INBOUND = "InboundConnector"
OUTBOUND = "OutboundConnector"
ACCEPTED_DOMAIN = "AcceptedDomain"
KINDS = (INBOUND, OUTBOUND, ACCEPTED_DOMAIN)

#: Settable properties of a new connector, with the value New gives them when not passed.
#: Order is the order of the Get output.
INBOUND_DEFAULTS: dict[str, Any] = {
    "Enabled": True,
    "ConnectorType": "Partner",  # UNCONFIRMED: the docs state no default
    "ConnectorSource": "Default",
    "Comment": "",
    "SenderIPAddresses": [],
    "SenderDomains": [],
    "TrustedOrganizations": [],
    "ClientHostNames": [],
    "AssociatedAcceptedDomains": [],
    "RequireTls": True,  # UNCONFIRMED: docs say $true, the M365DSC schema says $false
    "RestrictDomainsToIPAddresses": False,
    "RestrictDomainsToCertificate": False,
    "CloudServicesMailEnabled": False,  # UNCONFIRMED
    "TreatMessagesAsInternal": False,
    "TlsSenderCertificateName": None,
    "EFTestMode": False,
    "ScanAndDropRecipients": [],
    "EFSkipLastIP": False,
    "EFSkipIPs": [],
    "EFSkipMailGateway": [],
    "EFUsers": [],
}

OUTBOUND_DEFAULTS: dict[str, Any] = {
    "Enabled": True,
    "UseMXRecord": True,
    "Comment": "",
    "ConnectorType": "Partner",  # UNCONFIRMED: the docs state no default
    "ConnectorSource": "Default",
    "RecipientDomains": [],
    "SmartHosts": [],
    "TlsDomain": None,
    "TlsSettings": None,
    "IsTransportRuleScoped": False,
    "RouteAllMessagesViaOnPremises": False,
    "CloudServicesMailEnabled": False,
    "AllAcceptedDomains": False,
    "SenderRewritingEnabled": False,
    "TestMode": False,
    "LinkForModifiedConnector": None,
    "ValidationRecipients": [],
    "IsValidated": False,
    "LastValidationTimestamp": None,
    "MtaStsMode": "Opportunistic",
    "SmtpDaneMode": "Opportunistic",
}

DEFAULTS = {INBOUND: INBOUND_DEFAULTS, OUTBOUND: OUTBOUND_DEFAULTS}

OBJECT_CLASS = {
    INBOUND: ["top", "msExchSMTPInboundConnector"],
    OUTBOUND: ["top", "msExchSMTPOutboundConnector"],
    ACCEPTED_DOMAIN: ["top", "msExchAcceptedDomain"],
}
OBJECT_CATEGORY = {
    INBOUND: "ms-Exch-SMTP-Inbound-Connector",
    OUTBOUND: "ms-Exch-SMTP-Outbound-Connector",
    ACCEPTED_DOMAIN: "ms-Exch-Accepted-Domain",
}

MAX_NAME_LENGTH = 64
DEFAULT_RESULT_SIZE = 1000

TEST_MODE_WARNING = (
    "There is at least one test mode connector which is not included in the result. Please use "
    "-IncludeTestModeConnectors to include test mode connectors."
)
RESULT_SIZE_WARNING = (
    "There are more results available than are currently displayed. To view them, increase the value "
    "for the ResultSize parameter."
)

#: Exchange Online Protection's published address ranges (docs/yaml-reference.md, "Value formats"):
#: EFSkipIPs may not name them.
MICROSOFT_365_RANGES = (
    "40.92.0.0/15",
    "40.107.0.0/16",
    "52.100.0.0/15",
    "52.102.0.0/16",
    "52.103.0.0/17",
    "104.47.0.0/17",
    "2a01:111:f400::/48",
    "2a01:111:f403::/48",
)
MAX_COMMENT_LENGTH = 1024
#: What an older or smaller service (standalone EOP, or before 2026) lacks: New/Set refuse these
#: parameters, Get does not return these properties and ``$select`` naming them is refused.
OLDER_SERVICE_LACKS = frozenset({"MtaStsMode", "SmtpDaneMode"})
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
