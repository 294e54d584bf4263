"""The emulator's configuration: registered apps, tenants, token lifetime, page size, faults.

In Python, build an :class:`EmulatorConfig`; on the command line, ``--config FILE`` (JSON or YAML) holds
the same fields.  With no apps configured the emulator is *open*: any client id may get a token with the
client secret ``emulator`` (or with an assertion from the built-in GitHub OIDC stand-in).  With no
tenants configured it serves any tenant name.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.emulator import catalogue as cat
from reconciler.emulator.files import read_document
from reconciler.errors import InputError, Location, Problem

OPEN_SECRET = "emulator"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
#: Azure DevOps issues a service connection's federated token as ``https://vstoken.dev.azure.com/{org id}``.
AZURE_DEVOPS_ISSUER_PREFIX = "https://vstoken.dev.azure.com/"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
MANAGE_AS_APP = "Exchange.ManageAsApp"
#: Entra role template ids carried in a token's ``wids`` claim: the role the app's service principal holds.
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FederatedCredential(_Model):
    """A federated identity credential: assertions from ``issuer`` about ``subject`` are accepted."""

    issuer: str = Field(default=GITHUB_ISSUER, description="Issuer (iss) of the external token.")
    subject: str = Field(
        description="Subject (sub) the external token must carry, e.g. repo:org/repo:ref:refs/heads/main."
    )
    audience: str = Field(
        default=FEDERATION_AUDIENCE, description="Audience (aud) the external token must carry."
    )


class AppConfig(_Model):
    """An app registration that may ask for tokens."""

    client_id: str
    client_secret: str | None = Field(default=None, description="Client secret, if the app has one.")
    secret_expired: bool = Field(
        default=False, description="The client secret has expired: Entra ID refuses it (AADSTS7000222)."
    )
    certificates: tuple[str, ...] = Field(
        default=(), description="PEM public certificates whose keys may sign client assertions."
    )
    certificate_files: tuple[str, ...] = Field(default=(), description="Files holding such PEM certificates.")
    federated: tuple[FederatedCredential, ...] = ()
    roles: tuple[str, ...] = Field(default=(MANAGE_AS_APP,), description="App roles put in issued tokens.")
    read_only: bool = Field(
        default=False,
        description="The app's service principal holds Global Reader instead of Exchange Administrator: "
        "reads work, write cmdlets are refused (403).",
    )
    tenants: tuple[str, ...] | None = Field(
        default=None, description="Tenants that consented to the app (names or ids); none means all."
    )

    def certificate_pems(self) -> list[bytes]:
        pems = [pem.encode() for pem in self.certificates]
        pems += [Path(path).read_bytes() for path in self.certificate_files]
        return pems


class TenantConfig(_Model):
    """A tenant the emulator serves: reachable by ``name`` (its onmicrosoft domain) or ``id``."""

    name: str = Field(description="The tenant's initial domain, e.g. contoso.onmicrosoft.com.")
    id: str | None = Field(default=None, description="The tenant id (GUID); derived from the name if absent.")
    accepted_domains: tuple[str, ...] = Field(
        default=(), description="Accepted domains besides the initial one."
    )

    @field_validator("id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        return str(uuid.UUID(value)) if value is not None else None


class GitHubConfig(_Model):
    """The GitHub Actions OIDC stand-in served under ``/_github/oidc/token``."""

    request_token: str = Field(default=OPEN_SECRET, description="Bearer token the caller must present.")
    subject: str = Field(
        default="repo:exoform/demo:ref:refs/heads/main", description="sub claim of issued tokens."
    )
    repository: str = "exoform/demo"


class AzureDevOpsConfig(_Model):
    """The Azure Pipelines OIDC stand-in served under ``POST /_azure_devops/oidctoken`` (what
    ``SYSTEM_OIDCREQUESTURI`` names in a job): a service connection's federated token."""

    access_token: str = Field(default=OPEN_SECRET, description="System.AccessToken the caller must present.")
    organization_id: str = Field(
        default="00000000-0000-0000-0000-0000000000ad", description="Organization id: the token's issuer."
    )
    connections: dict[str, str] = Field(
        default_factory=lambda: {"exoform-read": "sc://acme/mail-flow/exoform-read"},
        description="Service connection id -> the subject (sc://ORG/PROJECT/NAME) of its tokens.",
    )

    @property
    def issuer(self) -> str:
        return f"{AZURE_DEVOPS_ISSUER_PREFIX}{self.organization_id}"


class GitLabConfig(_Model):
    """The GitLab ID token stand-in served under ``GET /_gitlab/id_token?aud=...``: what GitLab puts in
    the variable of a job's ``id_tokens:`` entry (a test or demo fills the variable from it)."""

    issuer: str = Field(default="https://gitlab.example.com", description="The GitLab instance (iss).")
    subject: str = Field(
        default="project_path:acme/mail-flow:ref_type:branch:ref:main", description="sub claim of tokens."
    )
    project_path: str = "acme/mail-flow"


class FaultsConfig(_Model):
    """Faults switched on from the start (see :mod:`reconciler.emulator.faults` for the spec syntax)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    max_concurrent_per_tenant: int | None = None
    seed: int = 0
    rules: tuple[str, ...] = Field(default=(), description="Fault specs, e.g. '429:count=2,retry_after=1'.")


class EmulatorConfig(_Model):
    """Everything about the emulated service that is not tenant state."""

    apps: tuple[AppConfig, ...] = ()
    tenants: tuple[TenantConfig, ...] = ()
    token_lifetime_seconds: int = Field(default=3599, gt=0, description="Lifetime of issued access tokens.")
    page_size: int = Field(
        default=1000, gt=0, description="Page size when the client sends no Prefer header."
    )
    github: GitHubConfig = GitHubConfig()
    azure_devops: AzureDevOpsConfig = AzureDevOpsConfig()
    gitlab: GitLabConfig = GitLabConfig()
    federated_issuers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra federated issuers: issuer -> PEM public key or certificate verifying its tokens.",
    )
    faults: FaultsConfig = FaultsConfig()
    messages: str | None = Field(
        default=None,
        description="A message seed file (JSON or YAML, docs/emulator.md, 'Message trace'): every tenant's "
        "message log starts with its messages.",
    )
    service: Literal["current", "older"] = Field(
        default="current",
        description=(
            "Which service to play: the current Exchange Online, or an older or smaller one (standalone "
            "EOP, or before 2026) that lacks MtaStsMode and SmtpDaneMode: New/Set naming them are refused "
            "as unknown parameters, Get does not return them and a $select naming them is refused."
        ),
    )
    test_mode_flag: Literal["all", "only"] = Field(
        default="all",
        description=(
            "What Get-OutboundConnector -IncludeTestModeConnectors:$true lists: every connector (what "
            "Microsoft365DSC expects) or only the test-mode ones (one reading of the docs).  The service's "
            "real behaviour is UNCONFIRMED; clients must read completely either way."
        ),
    )

    @property
    def lacking(self) -> frozenset[str]:
        """The parameters and properties the played service does not have."""
        return cat.OLDER_SERVICE_LACKS if self.service == "older" else frozenset()

    @property
    def open(self) -> bool:
        """No apps registered: any client id with the secret ``emulator``."""
        return not self.apps

    def app(self, client_id: str) -> AppConfig | None:
        for app in self.apps:
            if app.client_id.casefold() == client_id.casefold():
                return app
        return None


def load_config(path: str | os.PathLike[str]) -> EmulatorConfig:
    """Read an emulator config file (JSON or YAML); :class:`InputError` with file, line, column if invalid."""
    document, locate = read_document(path, "emulator config")
    try:
        return EmulatorConfig.model_validate(document if document is not None else {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line, column = locate(error["loc"])
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(Problem(Location(str(path), line, column), f"{where}: {error['msg']}"))
        raise InputError(problems) from None
