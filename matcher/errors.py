"""The one error hierarchy of the library.

Messages are written for an intake coordinator: they say what was wrong,
where (file, row, column or field) and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass


class MatcherError(Exception):
    """Base class of every error the library raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    ``row`` is the spreadsheet row number (the header is row 1), or None for
    problems with a whole file or with a single record such as a web form.
    """

    field: str
    message: str
    source: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            in_file = self.source is not None or self.row is not None
            where.append(f"column '{self.field}'" if in_file else f"'{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ValidationError(MatcherError, ValueError):
    """An input was rejected; nothing was written. ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            shown += f"\n  … and {more} more"
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} found; nothing was changed:\n{shown}")

    def by_field(self) -> dict[str, str]:
        """First message per field, for forms and JSON error bodies."""
        errors: dict[str, str] = {}
        for problem in self.problems:
            errors.setdefault(problem.field or "_", problem.message)
        return errors


class ModelArtifactError(MatcherError):
    """A model artifact is missing, unreadable, or fails its checksum."""


class NotFoundError(MatcherError, LookupError):
    """A client, therapist or model version that was asked for does not exist."""
