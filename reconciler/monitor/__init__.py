"""Connector monitoring: what message trace says about each connector (see docs/monitoring.md)."""
