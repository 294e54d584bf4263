"""exoform benchmarks: ``make bench`` (``python -m bench``) runs them all and writes the report."""
