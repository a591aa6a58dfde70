"""Pipeline: the report, batch and aggregate runs, their kernels and provenance."""
