"""Exceptions raised by the loader. Each message says what went wrong and what to do."""

from __future__ import annotations


class IngestError(Exception):
    """A whole file was refused (or the load failed); the warehouse was left unchanged."""


class NoInputError(IngestError):
    """A date has no input file at all (checked before anything of the date is loaded)."""


class HeaderError(IngestError):
    """The file's header refuses it: checked before any row of any file is read."""


class MissingColumnError(HeaderError):
    """The header lacks one or more required columns."""

    def __init__(self, path: object, table: str, missing: tuple[str, ...], found: tuple[str, ...]):
        self.path = path
        self.table = table
        self.missing = missing
        self.found = found
        super().__init__(
            f"{path}: header (line 1) is missing required column(s) "
            f"{', '.join(missing)} for table {table}; found columns: "
            f"{', '.join(found) or '(none)'}. Nothing was loaded from this file and the "
            "warehouse is unchanged: fix the header (columns are matched by name, in any "
            "order) and load the file again."
        )
