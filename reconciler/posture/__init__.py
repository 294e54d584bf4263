"""Security posture: the connector settings that let spoofed mail in or let mail out unprotected.

The public surface of the package: :func:`check` runs every rule over one tenant's connectors,
:data:`RULES` and :data:`RULES_BY_ID` list the rules, :func:`fails` decides a threshold.
"""

from reconciler.posture.findings import Finding, Severity, fails
from reconciler.posture.rules import RULES, RULES_BY_ID, UNKNOWN_RULE, Rule, check

__all__ = ["RULES", "RULES_BY_ID", "UNKNOWN_RULE", "Finding", "Rule", "Severity", "check", "fails"]
