"""Render: every presentation decision (present), narrative, charts, tables and export."""
