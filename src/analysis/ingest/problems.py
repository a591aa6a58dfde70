"""What is wrong with a case workbook: problems, the error listing them, the report collecting them.

Ingest reports *every* problem in a file at once, so each step adds to a :class:`Report`
and only a problem that makes reading further pointless stops early
(:meth:`Report.stop`); :meth:`Report.fail` raises everything found as one
:class:`IngestError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from analysis.errors import UserError


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a case workbook.

    ``row`` is the row number Excel shows (header = 1, first case = 2); for CSV the
    header record is 1 likewise. ``sheet`` is None for CSV files.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: Any
    message: str
    level: str = "error"  # error | warning
    #: The consistency rule the problem breaks, if it is a rule violation.
    rule: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class IngestError(UserError):
    """A case workbook has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()):
        self.problems = list(problems)
        self.warnings = list(warnings)
        super().__init__(self._text())

    def _text(self) -> str:
        n = len(self.problems)
        file = self.problems[0].file if self.problems else "input"
        head = f"{n} problem{'s' if n != 1 else ''} in {file}:"
        return "\n".join([head, *(str(p) for p in self.problems)])


class Report:
    """Collects the problems of one file; :meth:`fail` raises them all at once.

    Parameters
    ----------
    file
        The file's name, as every problem quotes it.
    error
        The exception raised (an :class:`IngestError`, or a subclass naming the kind of input).
    """

    def __init__(self, file: str, error: type[IngestError] = IngestError) -> None:
        self.file = file
        self.error_type = error
        #: The sheet being read, once chosen (None for CSV); problems quote it.
        self.sheet: str | None = None
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        #: Cells already reported, so one bad cell is reported once.
        self.cells: set[tuple[int, str]] = set()
        #: Cases breaking each consistency rule of severity warning: rule id -> count.
        self.rule_warnings: dict[str, int] = {}

    def error(
        self,
        message: str,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        rule: str | None = None,
    ) -> None:
        """Record an error, unless the same cell (row and column) has one already.

        A rule violation (``rule`` given) is always recorded: one cell may break several
        rules, and each is a separate thing to put right.
        """
        if row is not None and column is not None and rule is None:
            if (row, column) in self.cells:
                return
            self.cells.add((row, column))
        self.errors.append(Problem(self.file, self.sheet, row, column, value, message, rule=rule))

    def warn(
        self,
        message: str,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        rule: str | None = None,
    ) -> None:
        """Record a warning: something odd that does not stop the file being read."""
        self.warnings.append(
            Problem(self.file, self.sheet, row, column, value, message, "warning", rule)
        )

    def fail(self, order: Sequence[str] = ()) -> None:
        """Raise :class:`IngestError` if any error was recorded.

        Parameters
        ----------
        order
            Column ids in workbook order: errors are listed file-wide ones first, then by
            row and, within a row, in this order.
        """
        if self.errors:
            raise self._exception(order)

    def stop(self, message: str, **where: Any) -> NoReturn:
        """Record a problem that makes reading further pointless, and raise every problem."""
        self.error(message, **where)
        raise self._exception()

    def _exception(self, order: Sequence[str] = ()) -> IngestError:
        pos = {c: i for i, c in enumerate(order)}
        self.errors.sort(
            key=lambda p: (
                p.row is not None,
                p.row or 0,
                pos.get(p.column or "", len(pos)),
            )
        )
        return self.error_type(self.errors, self.warnings)
