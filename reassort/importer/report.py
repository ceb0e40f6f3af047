"""What an import did, or with ``dry_run`` would do: counts of voters, never a value."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Errors kept in the report (all are counted): a wrong file would give one per row.
MAX_KEPT_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    """One problem of the file: its line (``None`` for the whole file) and why."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.message}" if self.line else self.message


@dataclass
class ImportReport:
    """Counts of rows and voters; ``fields`` names what changes, by the file's column names."""

    rows: int = 0
    created: int = 0              # voters new to the register
    changed: int = 0              # known voters of which at least one field changes
    unchanged: int = 0            # known voters the file leaves as they are
    fields: dict[str, int] = field(default_factory=dict)  # column → voters whose value changes
    absent: int = 0               # active voters of the register missing from the file
    absent_sample: list[str] = field(default_factory=list)  # identifiants of the first absent ones
    absent_deactivated: int = 0   # missing from the file and already deactivated
    present_deactivated: int = 0  # in the file but deactivated (they stay so)
    deactivated: int = 0          # deactivated by this import (``deactivate_absent``)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, message))

    def clear_counts(self) -> None:
        """Nothing was (or would be) written: no count may suggest otherwise."""
        self.created = self.changed = self.unchanged = self.absent = self.deactivated = 0
        self.absent_deactivated = self.present_deactivated = 0
        self.fields, self.absent_sample = {}, []

    def summary(self) -> str:
        """The audit trail's detail: counts only."""
        return (f"{self.created} créés, {self.changed} modifiés, {self.unchanged} inchangés, "
                f"{self.absent} absents, {self.deactivated} désactivés")
