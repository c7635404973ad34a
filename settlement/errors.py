"""Problems as data: input errors and rule breaks, each naming where it was found.

A :class:`Problem` names the file or topic, the record (line number or key), the field and, for a
rule break, the section of SETTLEMENT_RULES.md. Readers and rules return lists of problems; the
edges raise :class:`InputError` or :class:`BreaksError` so that nothing is published.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    source: str  # file path inside the bundle, or topic name
    record: str  # "line 7", or a key such as "account=A1 instrument=IF2612"
    field: str
    message: str
    rule: str = ""  # section of SETTLEMENT_RULES.md for a rule break, e.g. "§5"

    def __str__(self) -> str:
        where = f"{self.source}, {self.record}, field {self.field}"
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}: {self.message}{rule}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def by_file(problems: list[Problem]) -> dict[str, list[Problem]]:
    """The problems grouped by file (or topic), files in the order first met."""
    grouped: dict[str, list[Problem]] = {}
    for p in problems:
        grouped.setdefault(p.source, []).append(p)
    return grouped


def problems_text(kind: str, problems: list[Problem]) -> str:
    """Every problem, none left out, grouped by file with each file's count."""
    grouped = by_file(problems)
    lines = [f"{len(problems)} {kind}(s) in {len(grouped)} file(s):"]
    for source, found in grouped.items():
        lines.append(f"{source}: {len(found)}")
        for p in found:
            rule = f" [{p.rule}]" if p.rule else ""
            lines.append(f"  - {p.record}, field {p.field}: {p.message}{rule}")
    return "\n".join(lines)


class DayclearError(Exception):
    """Base of dayclear's errors that carry problems; the message lists every one of them."""

    kind = "error"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(problems_text(self.kind, problems))


class InputError(DayclearError):
    """Bad input: a missing or malformed file, row or field. Nothing is published."""

    kind = "input error"


class BreaksError(DayclearError):
    """Rule breaks that stop the day (SETTLEMENT_RULES §4, §5, reference data). Nothing is published."""

    kind = "break"


class PublishError(DayclearError):
    """A settled day that could not be published: the disk is full, another publisher holds the
    day (publication/day_lock.py). The message names the day and the file; nothing was published."""

    kind = "publication error"

    def __init__(self, message: str, source: str):
        super().__init__([Problem(source, "", "", message)])
        self.message = message

    def __str__(self) -> str:
        return self.message
