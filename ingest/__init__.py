"""Load the daily CSV drops into the warehouse's ``raw`` schema: the public entry points."""

from ingest.errors import HeaderError, IngestError, MissingColumnError, NoInputError
from ingest.load import LoadResult, drops_for, ingest_date, ingest_file
from ingest.sources import expected_path
from ingest.validate import check_header
