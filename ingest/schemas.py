"""The one declaration of the raw tables: every loader, the validation SQL, the dbt sources
and the tests read the input contract from here (derive from :data:`TABLES`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int64", "timestamp", "date"]


@dataclass(frozen=True)
class Column:
    """One input column. ``rule`` adds a check to "parses as ``type``": ``non_negative``
    (>= 0), ``positive`` (> 0) or ``one_of`` (in ``allowed``, after ``lowercase``);
    ``maximum`` keeps what the marts multiply or sum far from the 64-bit limit."""

    name: str
    type: ColumnType = "string"
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
    """A raw table: its input columns, its event id and its event time."""

    name: str
    key: str
    event_time: str
    columns: tuple[Column, ...]
    cluster_by: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def rejected_table(self) -> str:
        return f"{self.name}_rejected"


#: Lineage columns appended to every loaded raw row, in this order.
LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("_source_file", "string", description="File name the row was loaded from."),
    Column("_file_date", "date", description="Date the file covers (from its name)."),
    Column("_loaded_at", "timestamp", description="When the load that wrote this row ran (UTC)."),
    Column(
        "_source_row",
        "int64",
        description="The record's position among its file's parsed records (1 for the first); "
        "the later record wins when an id repeats within a file.",
    ),
)

#: Columns of ``raw.<table>_rejected``.
REJECTED_COLUMNS: tuple[Column, ...] = (
    Column("_source_file", "string", description="File name the row came from."),
    Column("_file_date", "date", description="Date the file covers (from its name)."),
    Column("_loaded_at", "timestamp", description="When the load that rejected this row ran."),
    Column("line_number", "int64", description="1-based physical line where the record starts."),
    Column("reason", "string", description="Why the row was not loaded."),
    Column("line_text", "string", description="The record exactly as it appears in the file."),
)
#: The part of a rejected row that comes from the file (the rest is the load's lineage).
REJECT_RECORD_COLUMNS: tuple[Column, ...] = tuple(
    c for c in REJECTED_COLUMNS if c.name in ("line_number", "reason", "line_text")
)

#: Columns of ``raw.load_audit``: one row per file load.
AUDIT_COLUMNS: tuple[Column, ...] = (
    Column("load_id", "string", description="Unique id of this file load."),
    Column("table_name", "string", description="Raw table the file was loaded into."),
    Column("_file_date", "date", description="Date the file covers."),
    Column("_source_file", "string", description="File name."),
    Column("_loaded_at", "timestamp", description="When the load ran (UTC)."),
    Column("rows_in_file", "int64", description="Data records in the file (header excluded)."),
    Column("rows_loaded", "int64", description="Records written to the raw table."),
    Column("rows_rejected", "int64", description="Records written to the rejected table."),
    Column("extra_columns", "string", description="Unknown header columns, ignored."),
)

AUDIT_TABLE = "load_audit"

#: The longest duration accepted, in seconds: ten years. With it, the marts' largest product
#: (10 x a duration) and any sum over a billion views stay below 2^63.
MAX_DURATION_S = 10 * 365 * 86_400

VIEWING_LOGS = TableSchema(
    name="viewing_logs",
    key="view_id",
    event_time="started_at",
    cluster_by=("view_id",),
    columns=(
        Column("view_id", required=True, description="Id of the viewing session."),
        Column("user_id", required=True, description="Viewer."),
        Column("content_id", required=True, description="Content watched."),
        Column("genre", description="Genre of the content."),
        Column("started_at", "timestamp", required=True, description="Session start (UTC)."),
        Column(
            "watch_duration_s",
            "int64",
            required=True,
            rule="non_negative",
            maximum=MAX_DURATION_S,
            description="Seconds watched (0 to 315360000, ten years).",
        ),
        Column(
            "content_duration_s",
            "int64",
            rule="positive",
            maximum=MAX_DURATION_S,
            description="Length of the content in seconds (1 to 315360000, ten years).",
        ),
        Column("device", description="Device type."),
        Column("country", description="Country code."),
    ),
)

SOCIAL_INTERACTIONS = TableSchema(
    name="social_interactions",
    key="interaction_id",
    event_time="created_at",
    cluster_by=("interaction_id",),
    columns=(
        Column("interaction_id", required=True, description="Id of the interaction."),
        Column("user_id", required=True, description="User who interacted."),
        Column("content_id", required=True, description="Content interacted with."),
        Column(
            "interaction_type",
            required=True,
            rule="one_of",
            allowed=("like", "share", "comment"),
            lowercase=True,
            description="like, share or comment (stored lowercase).",
        ),
        Column("platform", description="Platform the interaction came from."),
        Column("created_at", "timestamp", required=True, description="When it happened (UTC)."),
    ),
)

TABLES: dict[str, TableSchema] = {t.name: t for t in (VIEWING_LOGS, SOCIAL_INTERACTIONS)}

#: Schema (DuckDB) / dataset (BigQuery) names.
RAW_SCHEMA = "raw"
ANALYTICS_SCHEMA = "analytics"
