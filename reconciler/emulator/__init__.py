"""An emulator of the parts of Exchange Online that exoform talks to (connectors over InvokeCommand, plus an
Entra-ID-like token endpoint), usable in-process or as an HTTPS server on loopback, with switchable faults.

Modules: :mod:`.app` (the service object), :mod:`.transport` (in-process httpx transport), :mod:`.server`
(TLS server), :mod:`.store` (state), :mod:`.config`, :mod:`.faults`, :mod:`.tenant` (cmdlet semantics),
:mod:`.catalogue` (the emulator's own parameter catalogue), :mod:`.identity` (tokens).

Independence rule: nothing here imports ``reconciler.model``, ``reconciler.normalize`` or
``reconciler.desired.config``.
"""
