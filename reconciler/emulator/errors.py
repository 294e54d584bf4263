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
from typing import Any

KNOWN_CODES = {"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException": "Ex6F9304"}

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
AMBIGUOUS = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"
PARAMETER_BINDING = "System.Management.Automation.ParameterBindingException"
ARGUMENT_TRANSFORMATION = "System.Management.Automation.ParameterBindingArgumentTransformationException"
DATA_VALIDATION = "Microsoft.Exchange.Data.DataValidationException"
ALREADY_EXISTS = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
TASK_ARGUMENT = "Microsoft.Exchange.Configuration.Tasks.TaskArgumentException"
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
    """A cmdlet failed as the service would fail it: ``status`` is the HTTP status of the response."""

    def __init__(self, exception_type: str, text: str, *, status: int = 400) -> None:
        self.exception_type = exception_type
        self.text = text
        self.status = status
        super().__init__(text)

    def body(self) -> dict[str, Any]:
        """The JSON error body of the response."""
        detail = f"{error_code(self.exception_type)}|{self.exception_type}|{self.text}"
        return {
            "error": {
                "code": _HTTP_CODES.get(self.status, "BadRequest"),
                "message": "Error executing cmdlet",
                "details": [{"code": "Client", "target": "", "message": detail}],
                "innererror": {
                    "message": detail,
                    "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "stacktrace": "",
                    "internalexception": {
                        "message": self.text,
                        "type": self.exception_type,
                        "stacktrace": "",
                    },
                },
            }
        }


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
    """A parameter the cmdlet does not take, or a mandatory one missing (HTTP 400)."""
    return CmdletError(PARAMETER_BINDING, text)
