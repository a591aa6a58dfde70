"""gptables' table writer without its row-by-row format frames (the same workbook, faster).

gptables 2.0.2 (MIT licence) builds, for every table, a frame of one formatting dict per
cell by assigning each row with ``formats.iloc[row] = ...`` (some 3,300 assignments for one
organisation's ``tables.xlsx``) and updates the dicts through ``Series.apply`` and
``np.vectorize``: about a quarter of the workbook's CPU time (issue 15). While
:func:`faster_gptables` is active, :class:`gptables.core.wrappers.GPWorksheet` builds that
frame in one go and updates the dicts in a plain loop; everything else is gptables' own
code, so the cells, their formats and the file are byte for byte what gptables writes
(``tests/test_tables_fast.py`` compares them). Any other gptables version runs unpatched.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import pandas as pd

#: The gptables release whose ``_write_table_elements`` :func:`_write_table_elements` follows.
GPTABLES_VERSION = "2.0.2"


def _apply_format(format_table_slice: object, format_dict: dict) -> None:
    """The ``_apply_format`` of gptables: update each cell's format dict, in a plain loop."""
    if isinstance(format_table_slice, pd.Series | pd.DataFrame):
        for cell in format_table_slice.to_numpy().ravel():
            cell.update(format_dict)
    elif isinstance(format_table_slice, dict):
        format_table_slice.update(format_dict)


def _write_table_elements(self: Any, pos: list, gptable: Any, auto_width: bool) -> list:
    """The ``GPWorksheet._write_table_elements`` of gptables 2.0.2, its format frame at once.

    The checks, theme formats, alignments, extra formatting and writing are the
    library's, called in the same order; only the frame of empty format dicts (one
    fresh dict per cell, as the library's row loop makes) is built in one call.
    """
    # In place, as the library does: its later steps read the table from the GPTable.
    gptable.table.replace({r"^\s*$": None}, inplace=True, regex=True)  # noqa: PD002
    _check_table(gptable)
    theme = self.theme
    pos = [gptable.data_range[0], 0]
    index_levels = gptable.index_levels
    index_columns = list(gptable.index_columns.values())
    data = pd.DataFrame(gptable.table, copy=True)
    with warnings.catch_warnings():
        # The library's upcast of a numeric column to object (pandas warns of it there too).
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        data.loc[-1] = data.columns  # the row of column headings
    data.index = data.index + 1
    data = data.sort_index()

    n_rows, n_cols = data.shape
    formats = pd.DataFrame(
        [[{} for _ in range(n_cols)] for _ in range(n_rows)],
        index=data.index,
        columns=data.columns,
        dtype=object,
    )
    self._apply_format(formats.iloc[0, 0:], theme.column_heading_format)
    self._apply_format(formats.iloc[1:, index_levels:], theme.data_format)
    index_level_formats = [theme.index_1_format, theme.index_2_format, theme.index_3_format]
    for level, col in gptable.index_columns.items():
        self._apply_format(formats.iloc[1:, col], index_level_formats[level - 1])
    self._apply_column_alignments(data, formats, index_columns)
    self._apply_additional_formatting(formats, gptable.additional_formatting, index_levels)
    pos = self._write_array(pos, data, formats)
    if auto_width:
        self._set_column_widths(self._calculate_column_widths(data, formats))
    self._mark_data_as_worksheet_table(gptable, formats)
    return pos


def _check_table(gptable: Any) -> None:
    """The library's checks of a table before it is written (same errors, same warning)."""
    table = gptable.table
    if table.isna().values.all():
        raise ValueError(
            f"\n            {gptable.table_name} contains only null or whitespace cells.\n"
            "            Please provide alternative table containing data.\n            "
        )
    if table.isna().all(axis=1).any():
        raise ValueError(
            f"\n            Empty or null row found in {gptable.table_name}.\n"
            "            Please remove blank rows before passing data to GPTable.\n            "
        )
    if table.isna().values.any():
        warnings.warn(
            f"\n            Empty or null cell found in {gptable.table_name}. The reason for\n"
            "            missingness should be included in the `GPTable.instructions` "
            "attribute.",
            stacklevel=3,
        )
    if table.astype("string").stack().str.contains("^[^a-zA-Z0-9]*$").any():
        raise ValueError(
            f"\n            Cell found in {gptable.table_name} containing only special "
            "characters,\n            replace with alphanumeric characters before inputting "
            "to GPTable.\n            "
        )


@contextmanager
def faster_gptables() -> Iterator[bool]:
    """Patch :class:`GPWorksheet` inside the block (gptables 2.0.2 only); yields whether it did."""
    from gptables.core.wrappers import GPWorksheet

    if metadata.version("gptables") != GPTABLES_VERSION:
        yield False
        return
    saved = GPWorksheet.__dict__["_write_table_elements"], GPWorksheet.__dict__["_apply_format"]
    GPWorksheet._write_table_elements = _write_table_elements
    GPWorksheet._apply_format = staticmethod(_apply_format)
    try:
        yield True
    finally:
        GPWorksheet._write_table_elements, GPWorksheet._apply_format = saved
