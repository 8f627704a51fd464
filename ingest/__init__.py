"""Load the daily CSV drops into the warehouse's ``raw`` schema."""

from ingest.load import (
    HeaderError,
    IngestError,
    LoadResult,
    MissingColumnError,
    expected_path,
    ingest_date,
    ingest_file,
)
from ingest.validate import check_header

__all__ = [
    "HeaderError",
    "IngestError",
    "LoadResult",
    "MissingColumnError",
    "check_header",
    "expected_path",
    "ingest_date",
    "ingest_file",
]
