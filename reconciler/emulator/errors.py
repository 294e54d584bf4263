"""Errors the emulated service raises, in the shape Exchange Online's InvokeCommand endpoint uses.

A :class:`CmdletError` becomes an HTTP error response whose body is::

    {"error": {"code": "<HTTP-ish code>", "message": "Error executing cmdlet",
               "details": [{"code": "Client", "target": "", "message": "ExNNNNNN|<exception type>|<text>"}],
               "innererror": {...}}}

The ``ExNNNNNN`` codes of the real service are opaque.  The emulator uses the one real code it knows
(``Ex6F9304`` for ManagementObjectNotFoundException) and derives a stable code from the exception type
for the others, so a given failure always carries the same code.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

KNOWN_CODES = {"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException": "Ex6F9304"}

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
AMBIGUOUS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"
PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
ARGUMENT_TRANSFORMATION = "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException"
AMBIGUOUS_PARAMETER_SET = "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException"
UNKNOWN_PROPERTY = "Microsoft.OData.ODataException"
DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
ALREADY_EXISTS = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
#: Same-kind duplicates are caught by the New task itself, per kind (``{kind}`` is Inbound or Outbound).
CONNECTOR_EXISTS = (
    "Microsoft.Exchange.Management.SystemConfigurationTasks.Error{kind}ConnectorAlreadyExistsException"
)
COMMAND_NOT_FOUND = "System.Management.Automation.CommandNotFoundException"

_HTTP_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    500: "InternalServerError",
}


def error_code(exception_type: str) -> str:
    """The ``ExNNNNNN`` code the emulator reports for ``exception_type`` (stable across runs)."""
    if exception_type in KNOWN_CODES:
        return KNOWN_CODES[exception_type]
    return "Ex" + hashlib.sha256(exception_type.encode()).hexdigest()[:6].upper()


class CmdletError(Exception):
    """A cmdlet failed as the service would fail it: ``status`` is the HTTP status of the response.

    ``shape`` is the body's form: ``cmdlet`` (an error the cmdlet raised: ``details`` with the
    ``ExNNNNNN|type|text`` triple), ``invocation`` (refused before the cmdlet ran, as the REST layer
    answers an unknown parameter: "Invalid Operation" and an empty code slot in the triple) or
    ``transformation`` (a value that cannot be converted: "Invalid Operation", no ``details`` at all).
    The last two are the live bodies in tests/fixtures/rest/.
    """

    def __init__(
        self,
        exception_type: str,
        text: str,
        *,
        status: int = 400,
        shape: Literal["cmdlet", "invocation", "transformation"] = "cmdlet",
    ) -> None:
        self.exception_type = exception_type
        self.text = text
        self.status = status
        self.shape = shape
        super().__init__(text)

    def body(self) -> dict[str, Any]:
        """The JSON error body of the response."""
        code = "" if self.shape == "invocation" else error_code(self.exception_type)
        detail = f"{code}|{self.exception_type}|{self.text}"
        message = "Error executing cmdlet" if self.shape == "cmdlet" else "Invalid Operation"
        error: dict[str, Any] = {"code": _HTTP_CODES.get(self.status, "BadRequest"), "message": message}
        if self.shape != "transformation":
            error["details"] = [{"code": "Client", "target": "", "message": detail}]
        error["innererror"] = {
            "message": detail if self.shape == "cmdlet" else message,
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "stacktrace": "",
            "internalexception": {"message": self.text, "type": self.exception_type, "stacktrace": ""},
        }
        return {"error": error}


def not_found(identity: str, tenant: str) -> CmdletError:
    return CmdletError(
        NOT_FOUND,
        f"The operation couldn't be performed because object '{identity}' couldn't be found on '{tenant}'.",
        status=404,
    )


def invalid(text: str) -> CmdletError:
    """A value or a combination of values the service refuses (HTTP 400, DataValidationException)."""
    return CmdletError(DATA_VALIDATION, text)


def binding(text: str) -> CmdletError:
    """A parameter given twice, or a mandatory one missing (HTTP 400)."""
    return CmdletError(PARAMETER_BINDING, text)


def unknown_parameter(name: str) -> CmdletError:
    """A parameter the cmdlet does not take (or this service does not have), as the REST layer refuses
    it: HTTP 400, ``AmbiguousParameterSetException`` naming the parameter (tests/fixtures/rest/)."""
    return CmdletError(
        AMBIGUOUS_PARAMETER_SET,
        "Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters "
        f"specified. {name}",
        shape="invocation",
    )


def unknown_property(name: str) -> CmdletError:
    """``$select`` naming a property this service does not have (an older or smaller service): HTTP 400,
    the OData layer's refusal.  The real text is UNCONFIRMED (docs/emulator.md, "An older service")."""
    return CmdletError(
        UNKNOWN_PROPERTY,
        f"The query specified in the URI is not valid. Could not find a property named '{name}' on type "
        "'Exchange.GenericHashTable'.",
        shape="transformation",
    )
