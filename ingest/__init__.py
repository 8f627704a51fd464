"""Load the daily CSV drops into the warehouse's ``raw`` schema: the public entry points."""

from ingest.errors import HeaderError, IngestError, MissingColumnError, NoInputError
from ingest.load import LoadResult, drops_for, expected_path, ingest_date, ingest_file
from ingest.validate import check_header
