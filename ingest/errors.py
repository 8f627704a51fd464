"""Exceptions raised by the loader. Each message says what went wrong and what to do."""


class IngestError(Exception):
    """A whole file was refused (or the load failed); the warehouse was left unchanged."""


class NoInputError(IngestError):
    """A date has no input file at all (checked before anything of the date is loaded)."""


class HeaderError(IngestError):
    """The file's header refuses it: checked before any row of any file is read."""


class MissingColumnError(HeaderError):
    """The header lacks one or more required columns."""
