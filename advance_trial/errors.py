"""Exit statuses, exceptions and warnings of advance-trial.

Every failure a user can cause is one of the exception classes here; the
command line maps each to an :class:`ExitCode` (contract section 4) and renders
its problems. Statistical caveats are warnings of :class:`AdvanceTrialWarning`'s
family, so that callers can filter or escalate them.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of the ``advance-trial`` command (contract section 4)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG_INVALID = 3
    DATA_INVALID = 4
    INTEGRITY = 5
    INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a trial config.

    Attributes
    ----------
    path : str
        Dotted key path, e.g. ``arms[1].ratio``; empty for the whole file.
    line : int or None
        1-based line in the YAML file where the key (or its value) stands.
    message : str
        What is wrong and what is allowed.
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        key = f"{self.path}: " if self.path else ""
        return f"{where}: {key}{self.message}"


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with a data file.

    Attributes
    ----------
    file : str
        File name as the user knows it.
    row : int or None
        Row as seen in a spreadsheet: the header is row 1, the first data row is row 2.
        ``None`` when the problem concerns the whole file or a column.
    column : str or None
        Column name, when the problem is in one column.
    value : str or None
        The offending value as it was written.
    message : str
        What is wrong and what is allowed.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.value is not None:
            parts.append(f"value {self.value!r}")
        return ", ".join(parts) + f": {self.message}"


class AdvanceTrialError(Exception):
    """Base class of every error a user of advance-trial can cause."""

    exit_code: ExitCode = ExitCode.ERROR
    title: str = "Error"

    def details(self) -> list[str]:
        """Lines that explain the error, one problem each."""
        return []

    def footer(self) -> list[str]:
        """Lines shown after the problems, however many were cut (e.g. where the full report is)."""
        return []


class UsageError(AdvanceTrialError):
    """A command was called with options that do not fit together."""

    exit_code = ExitCode.USAGE
    title = "Usage error"


class ConfigError(AdvanceTrialError):
    """The trial config is invalid; carries every problem found."""

    exit_code = ExitCode.CONFIG_INVALID
    title = "Invalid trial config"

    def __init__(self, file: str, problems: list[ConfigProblem]) -> None:
        self.file = file
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{file}: {n} problem{'s' if n != 1 else ''}: " + "; ".join(map(str, problems)))

    def details(self) -> list[str]:
        return [f"{self.file}: {p}" for p in self.problems]


class DataError(AdvanceTrialError):
    """Data files are invalid; carries every problem found."""

    exit_code = ExitCode.DATA_INVALID
    title = "Invalid data"

    def __init__(self, problems: list[DataProblem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = "; ".join(map(str, self.problems[:5]))
        more = f" (and {n - 5} more)" if n > 5 else ""
        super().__init__(f"{n} data problem{'s' if n != 1 else ''}: {head}{more}")

    def details(self) -> list[str]:
        return [str(p) for p in self.problems]

    def records(self) -> list[dict[str, object]]:
        """Every problem as ``file, row, column, value, problem`` (machine output, problem files)."""
        return [{"file": p.file, "row": p.row, "column": p.column, "value": p.value, "problem": p.message}
                for p in self.problems]  # fmt: skip

    def write_problem_file(self) -> str:
        """Write every problem to a CSV file named by its content in the temporary folder; its path."""
        import csv
        import hashlib
        import io
        import os
        import tempfile

        buf = io.StringIO()
        writer = csv.DictWriter(buf, ["file", "row", "column", "value", "problem"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.records())
        data = buf.getvalue().encode()
        path = os.path.join(
            tempfile.gettempdir(), f"advance-trial-problems-{hashlib.sha256(data).hexdigest()[:12]}.csv"
        )
        with open(path, "wb") as fh:
            fh.write(data)
        return path


class NotAllocatedError(DataError):
    """A request names a man who has not been allocated (exit 4; the service answers 404)."""


class IntegrityError(AdvanceTrialError):
    """An integrity check failed: a log was tampered with or outputs do not reproduce."""

    exit_code = ExitCode.INTEGRITY
    title = "Integrity check failed"


class AdvanceTrialWarning(UserWarning):
    """Base class of advance-trial's warnings."""


class StatisticalWarning(AdvanceTrialWarning):
    """A statistical caveat: the numbers are computed but deserve a second look."""


class BoundaryWarning(StatisticalWarning):
    """A variance component was estimated on (or numerically at) its boundary of zero."""


class ConvergenceWarning(StatisticalWarning):
    """A model's iterations stopped before converging; its estimates are unreliable."""


class EstimationWarning(StatisticalWarning):
    """An analysis was not estimable, or was estimated on fewer men or covariates than configured."""


class SeparationWarning(StatisticalWarning):
    """A logistic model's data are (quasi-)completely separated: its maximum likelihood estimate is infinite."""


class SmallCellWarning(AdvanceTrialWarning):
    """A count below the reporting threshold appears in an output meant to be shared."""
