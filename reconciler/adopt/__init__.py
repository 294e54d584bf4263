"""Adoption: live connectors (:mod:`.exporter`) or foreign exports (:mod:`.importer`) into connector
files, through one writer."""
