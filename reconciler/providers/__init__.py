"""Providers: the live side of a tenant, behind the small protocol in :mod:`reconciler.providers.base`."""
