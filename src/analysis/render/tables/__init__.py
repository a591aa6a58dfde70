"""Accessible Excel tables of the findings table (``tables.xlsx``).

- :mod:`.sheets`: the published tables as plain data (:func:`build_tables`);
- :mod:`.workbook`: the workbook around them, written safely and reproducibly
  (:func:`write_tables`).
"""

from analysis.render.tables.sheets import AUDIENCES, Column, Table, build_tables
from analysis.render.tables.workbook import DEFAULT_CONTACT, FIXED_CREATED, write_tables

__all__ = [
    "AUDIENCES",
    "DEFAULT_CONTACT",
    "FIXED_CREATED",
    "Column",
    "Table",
    "build_tables",
    "write_tables",
]
