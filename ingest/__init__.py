"""Load the daily CSV drops into the warehouse's ``raw`` schema."""

from ingest.load import (
    IngestError,
    LoadResult,
    MissingColumnError,
    expected_path,
    ingest_date,
    ingest_file,
)

__all__ = [
    "IngestError",
    "LoadResult",
    "MissingColumnError",
    "expected_path",
    "ingest_date",
    "ingest_file",
]
