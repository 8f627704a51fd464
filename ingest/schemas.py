"""The one declaration of the raw tables: every loader, the validation SQL, the dbt sources
and the tests read the input contract from here (derive from :data:`TABLES`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Column:
    """One input column. ``rule`` adds a check to "parses as ``type``": ``non_negative``
    (>= 0), ``positive`` (> 0) or ``one_of`` (in ``allowed``, after ``lowercase``);
    ``maximum`` keeps what the marts multiply or sum far from the 64-bit limit."""

    name: str
    type: Literal["string", "int64", "timestamp", "date"] = "string"
    required: bool = False
    rule: Literal["non_negative", "positive", "one_of"] | None = None
    allowed: tuple[str, ...] = ()
    lowercase: bool = False
    description: str = ""
    maximum: int | None = None

    def __post_init__(self) -> None:
        # The validation SQL relies on a blank value never being an allowed one.
        if any(not a.strip() for a in self.allowed):
            raise ValueError(f"{self.name}: an allowed value cannot be blank")


@dataclass(frozen=True)
class TableSchema:
    """A raw table: its event id (which BigQuery clusters by), event time and input columns."""

    name: str
    key: str
    event_time: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def rejected_table(self) -> str:
        return f"{self.name}_rejected"

    @property
    def raw_columns(self) -> tuple[Column, ...]:  # of raw.<table>: input, then lineage
        return self.columns + LINEAGE_COLUMNS


#: The longest duration accepted, in seconds: ten years. With it, the marts' largest product
#: (10 x a duration) and any sum over a billion views stay below 2^63.
MAX_DURATION_S = 10 * 365 * 86_400

# fmt: off
VIEWING_LOGS = TableSchema("viewing_logs", "view_id", "started_at", (
    Column("view_id", required=True, description="Id of the viewing session."),
    Column("user_id", required=True, description="Viewer."),
    Column("content_id", required=True, description="Content watched."),
    Column("genre", description="Genre of the content."),
    Column("started_at", "timestamp", required=True, description="Session start (UTC)."),
    Column("watch_duration_s", "int64", True, "non_negative", maximum=MAX_DURATION_S,
           description="Seconds watched (0 to 315360000, ten years)."),
    Column("content_duration_s", "int64", False, "positive", maximum=MAX_DURATION_S,
           description="Length of the content in seconds (1 to 315360000, ten years)."),
    Column("device", description="Device type."),
    Column("country", description="Country code."),
))
SOCIAL_INTERACTIONS = TableSchema("social_interactions", "interaction_id", "created_at", (
    Column("interaction_id", required=True, description="Id of the interaction."),
    Column("user_id", required=True, description="User who interacted."),
    Column("content_id", required=True, description="Content interacted with."),
    Column("interaction_type", "string", True, "one_of", ("like", "share", "comment"), True,
           description="like, share or comment (stored lowercase)."),
    Column("platform", description="Platform the interaction came from."),
    Column("created_at", "timestamp", required=True, description="When it happened (UTC)."),
))
LINEAGE_COLUMNS: tuple[Column, ...] = (  # appended to every loaded raw row, in this order
    Column("_source_file", description="File name the row was loaded from."),
    Column("_file_date", "date", description="Date the file covers (from its name)."),
    Column("_loaded_at", "timestamp", description="When the load that wrote this row ran (UTC)."),
    Column("_source_row", "int64", description="The record's position among its file's parsed "
           "records (1 for the first); the later record wins when an id repeats in a file."),
)
REJECTED_COLUMNS: tuple[Column, ...] = (  # raw.<table>_rejected
    Column("_source_file", description="File name the row came from."),
    Column("_file_date", "date", description="Date the file covers (from its name)."),
    Column("_loaded_at", "timestamp", description="When the load that rejected this row ran."),
    Column("line_number", "int64", description="1-based physical line where the record starts."),
    Column("reason", description="Why the row was not loaded."),
    Column("line_text", description="The record exactly as it appears in the file."),
)
AUDIT_COLUMNS: tuple[Column, ...] = (  # raw.load_audit: one row per file load
    Column("load_id", description="Unique id of this file load."),
    Column("table_name", description="Raw table the file was loaded into."),
    Column("_file_date", "date", description="Date the file covers."),
    Column("_source_file", description="File name."),
    Column("_loaded_at", "timestamp", description="When the load ran (UTC)."),
    Column("rows_in_file", "int64", description="Data records in the file (header excluded)."),
    Column("rows_loaded", "int64", description="Records written to the raw table."),
    Column("rows_rejected", "int64", description="Records written to the rejected table."),
    Column("extra_columns", description="Unknown header columns, ignored."),
)
# fmt: on
#: The part of a rejected row that comes from the file (the rest is the load's lineage).
REJECT_RECORD_COLUMNS = REJECTED_COLUMNS[3:]
AUDIT_TABLE = "load_audit"
TABLES: dict[str, TableSchema] = {t.name: t for t in (VIEWING_LOGS, SOCIAL_INTERACTIONS)}

#: Schema (DuckDB) / dataset (BigQuery) names.
RAW_SCHEMA = "raw"
ANALYTICS_SCHEMA = "analytics"
