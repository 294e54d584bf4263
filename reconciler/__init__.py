"""exoform: Exchange Online mail-flow connectors as code (the ``reconciler`` package)."""

__version__ = "0.1.0"
