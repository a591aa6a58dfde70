"""Ingest: file guards, readers, normalisation and validation of case workbooks."""
