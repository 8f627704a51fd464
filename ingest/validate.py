"""Read and check one CSV file in DuckDB: the one read path of every warehouse.

:func:`open_read` checks the header and decides, before anything is written, how DuckDB's
reader takes the file: every column as VARCHAR, named from the header parsed in Python, no
sniffing, records up to ``MAX_LINE_BYTES``. A file whose records end in both LF and CRLF is
read from a copy whose records all end in LF (DuckDB's strict reader refuses or misreads
it), and a file with quoted line breaks in a single thread (the parallel reader refuses
some). A carriage return outside quotes refuses the file, naming its line.

:func:`write_rows` then runs one ``INSERT … SELECT`` (or ``CREATE TABLE … AS``) of every
parsed record, in file order, with its typed values and ``_reject_reason`` (NULL when the
row is valid; see :mod:`ingest.rules`). The rejects are located from that table and from
the reader's reject store, by one mechanism (:func:`_locate`): a record's position maps to
its physical line and original text through the file's record spans
(:mod:`ingest.csvfile`), computed only when the file has rejects.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import mmap
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np

from ingest import csvfile, rules
from ingest.errors import IngestError, MissingColumnError
from ingest.schemas import REJECT_RECORD_COLUMNS, TableSchema

log = logging.getLogger(__name__)

#: Files up to this size get exact (Python csv) record spans when they have rejects; larger
#: ones use the vectorised quote-parity scan, cross-checked against the reader.
EXACT_SPANS_MAX_BYTES = 64 << 20
#: Longest record accepted (a longer one is rejected); also the reader's buffer size.
MAX_LINE_BYTES = 64 << 20
#: Column holding a parsed row's reject reason (NULL: the row is valid).
REASON = "_reject_reason"
#: Placeholder reason for a wrong field count, replaced once the record text is known.
FIELDS = "wrong number of fields"
#: Rule rejects read at a time while their text is looked up.
REJECT_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class SliceMeta:
    """Lineage of one file load."""

    table: str
    file_date: date
    source_file: str
    load_id: str
    loaded_at: datetime


@dataclass(frozen=True)
class SliceCounts:
    """A file's records: in the file, loaded and rejected."""

    rows_in_file: int
    rows_loaded: int
    rows_rejected: int


def check_reconciliation(path: Path, expected: SliceCounts, loaded: int, rejected: int) -> None:
    """Raise (so the caller rolls back) unless the rows written are what the file held."""
    if (loaded, rejected) != (expected.rows_loaded, expected.rows_rejected) or (
        expected.rows_in_file != loaded + rejected
    ):
        raise IngestError(
            f"{path}: reconciliation failed: {expected.rows_in_file} rows in file but "
            f"{loaded} loaded (expected {expected.rows_loaded}) + {rejected} rejected "
            f"(expected {expected.rows_rejected}); the load was rolled back. This is a bug in "
            "the loader: report it with the file"
        )


def check_header(schema: TableSchema, path: Path) -> csvfile.Header:
    """Read ``path``'s header and refuse the file if it lacks a required column of ``schema``.

    Cheap (the first record only): callers may check every file of a run before loading any.
    """
    if not path.is_file():
        raise IngestError(f"{path}: file not found; check the source directory and the date")
    header = csvfile.read_header(path)
    missing = tuple(c for c in schema.required_columns if c not in header.columns)
    if missing:
        raise MissingColumnError(path, schema.name, missing, header.columns)
    return header


@dataclass(frozen=True)
class FileRead:
    """How DuckDB reads and checks one file, decided before any write."""

    schema: TableSchema
    path: Path
    header: csvfile.Header
    #: Header columns the schema does not know (reported, ignored).
    extra_columns: tuple[str, ...]
    #: The file the reader opens: ``path``, or its copy with LF line ends.
    read_path: Path
    parallel: bool
    spans: Callable[[], csvfile.RecordSpans]

    def select(self, rejects: str, scan: str) -> str:
        """Every parsed record, typed, with its ``_reject_reason``, in file order; records
        the reader cannot take go to the temporary table ``rejects``."""
        header = self.header.columns
        # A sentinel column past the header, null padding and a NULL string that never
        # occurs: missing trailing fields become NULL, empty ones '', a surplus one fills
        # the sentinel (the reader otherwise drops trailing empty fields).
        names = [f"c{i}" for i in range(len(header))] + ["c_surplus"]
        spec = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        source = {c: f"c{header.index(c)}" for c in self.schema.column_names if c in header}
        for c in self.schema.column_names:
            source.setdefault(c, "CAST(NULL AS VARCHAR)")
        helpers, typed, valid, reason = rules.row_sql(self.schema, source)
        fields_bad = f"(c_surplus IS NOT NULL OR c{len(header) - 1} IS NULL)"
        return (
            f"SELECT {typed}, CASE WHEN NOT {fields_bad} AND {valid} THEN NULL "
            f"WHEN {fields_bad} THEN {rules.quote_literal(FIELDS)} ELSE {reason} END AS {REASON} "
            f"FROM (SELECT *, {helpers} FROM read_csv("
            f"{rules.quote_literal(rules.literal_path(self.read_path))}, columns = {spec}, "
            "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            "encoding = 'utf-8', null_padding = true, nullstr = '\\x00', strict_mode = true, "
            f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES}, "
            f"parallel = {str(self.parallel).lower()}, store_rejects = true, "
            f"rejects_table = '{rejects}', rejects_scan = '{scan}'))"
        )


@contextlib.contextmanager
def open_read(schema: TableSchema, path: Path) -> Iterator[FileRead]:
    """Check ``path``'s header against ``schema`` and decide how to read it (see the module
    doc); an LF copy, if one is needed, lives until the block ends."""
    path = Path(path)
    header = check_header(schema, path)
    known = set(schema.column_names)
    extra = tuple(
        c or f"(unnamed column {i})" for i, c in enumerate(header.columns, 1) if c not in known
    )
    if extra:
        log.warning("%s: ignoring unknown column(s) %s", path, ", ".join(extra))
    spans = functools.cache(lambda: _spans(path))
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        has_cr, has_quote = mm.find(b"\r") >= 0, mm.find(b'"') >= 0
    ends = csvfile.line_ends(path) if has_cr or has_quote else csvfile.LineEnds(None, False, None)
    if ends.stray_cr_line is not None:
        raise IngestError(
            f"{path}: line {ends.stray_cr_line}: a carriage return (CR) outside quotes that does "
            "not end the line; quote the field that holds it (RFC 4180) or remove it, and load "
            "the file again"
        )
    if ends.quoted_line_break:
        log.info("%s: quoted line breaks; reading the file in a single thread", path)
    with tempfile.TemporaryDirectory(prefix="nj-read-") as tmp:
        read_path = path
        if ends.mixed_crs is not None:
            log.info("%s: both LF and CRLF line ends; reading a copy with LF", path)
            read_path = Path(tmp) / path.name
            csvfile.copy_without(path, read_path, ends.mixed_crs)
        parallel = not ends.quoted_line_break
        yield FileRead(schema, path, header, extra, read_path, parallel, spans)


@dataclass(frozen=True)
class FileRows:
    """What :func:`write_rows` wrote and found."""

    counts: SliceCounts
    #: rowid of the file's first parsed record in the written table.
    first_rowid: int
    #: Temporary table of the located rejects (``line_number``, ``reason``, ``line_text``).
    rejects_table: str | None


def write_rows(
    con: duckdb.DuckDBPyConnection,
    plan: FileRead,
    statement: Callable[[str], str],
    table: str,
    where: str = "true",
) -> FileRows:
    """Run ``statement(select)``, which must write every record of :meth:`FileRead.select`
    into ``table`` (the rows matching ``where``) in one statement; then count and locate the
    rejects. Raises :class:`IngestError` when the file cannot be read or mapped to lines."""
    tag = uuid.uuid4().hex[:12]
    rej, scan = f"nj_rej_{tag}", f"nj_rejscan_{tag}"
    try:
        try:
            n_parsed = con.execute(statement(plan.select(rej, scan))).fetchone()[0]  # type: ignore[index]
        except duckdb.Error as exc:
            detail = str(exc).replace(rules.literal_path(plan.read_path), str(plan.path))
            raise IngestError(
                f"{plan.path}: could not be parsed as CSV "
                f"({detail.replace(str(plan.read_path), str(plan.path))}); fix the file "
                "(RFC 4180 quoting, UTF-8) and load it again"
            ) from exc
        structural = con.execute(
            f"SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; ') "
            f"FROM temp.{rej} GROUP BY line ORDER BY line"
        ).fetchall()
        first, n_rule = con.execute(
            f"SELECT coalesce(min(rowid), 0), count({REASON}) FROM {table} WHERE {where}"
        ).fetchone()  # type: ignore[misc]
        rejected = len(structural) + n_rule
        counts = SliceCounts(n_parsed + len(structural), n_parsed - n_rule, rejected)
        if not rejected:
            return FileRows(counts, first, None)
        rule_rows = con.execute(
            f"SELECT rowid - {first}, {REASON} FROM {table} "
            f"WHERE {where} AND {REASON} IS NOT NULL ORDER BY 1"
        )
        located = _locate(plan, n_parsed, structural, rule_rows)
        return FileRows(counts, first, _rejects_table(con, f"nj_rejects_{tag}", located))
    finally:
        # In an aborted transaction the rollback drops them.
        with contextlib.suppress(duckdb.TransactionException):
            for name in (rej, scan):
                con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _rejects_table(
    con: duckdb.DuckDBPyConnection, name: str, rejects: Iterator[tuple[int, str, str]]
) -> str:
    """A temporary table of ``rejects``, written through a newline-delimited JSON file:
    binding parameters would import pandas, and literal ``VALUES`` grow slow."""
    columns = ", ".join(
        f"{rules.quote_literal(c.name)}: {rules.quote_literal(rules.SQL_TYPES[c.type])}"
        for c in REJECT_RECORD_COLUMNS
    )
    with tempfile.TemporaryDirectory(prefix="nj-rejects-") as tmp:
        path, longest = Path(tmp) / "rejects.ndjson", 0
        with path.open("w", encoding="utf-8") as f:
            for line_number, reason, text in rejects:
                line = (
                    f'{{"line_number": {int(line_number)}, "reason": {json.dumps(reason)}, '
                    f'"line_text": {json.dumps(text)}}}\n'
                )
                longest = max(longest, len(line))
                f.write(line)
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json("
            f"{rules.quote_literal(str(path))}, format = 'newline_delimited', "
            f"columns = {{{columns}}}, maximum_object_size = {max(longest, 1 << 24)}) "
            "ORDER BY line_number"
        )
    return f"temp.{name}"


def _spans(path: Path) -> csvfile.RecordSpans:
    """Every record's span: exact (Python's csv) up to EXACT_SPANS_MAX_BYTES, else by quote
    parity (exact for RFC 4180 files)."""
    if path.stat().st_size <= EXACT_SPANS_MAX_BYTES:
        return csvfile.record_spans_exact(path)
    return csvfile.record_spans(path)


def _locate(
    plan: FileRead,
    n_parsed: int,
    structural: list[tuple[int, str]],
    rule_rows: duckdb.DuckDBPyConnection,
) -> Iterator[tuple[int, str, str]]:
    """Reader rejects (record numbers) and rule rejects (parsed-row positions, read in
    batches) as (physical line, reason, original text). Raises before yielding anything
    when the records cannot be mapped to lines."""
    path, spans = plan.path, plan.spans()
    if len(spans.data_index()) != n_parsed + len(structural) and spans.exact is False:
        log.info("%s: quote-parity record scan disagrees; using the exact scan", path)
        spans = csvfile.record_spans_exact(path)
    data = spans.data_index()
    if len(data) != n_parsed + len(structural):
        raise IngestError(
            f"{path}: found {len(data)} data records but the CSV reader parsed "
            f"{n_parsed + len(structural)}; the file's quoting is probably broken (an "
            "unbalanced '\"'). Fix the quoting and load the file again"
        )
    # The reader numbers records from 1 with the header and blank lines included.
    struct_idx = np.array([line - 1 for line, _ in structural], dtype=np.int64)
    is_data = np.zeros(len(spans), dtype=bool)
    is_data[data] = True
    if len(struct_idx) and (struct_idx.max() >= len(spans) or not is_data[struct_idx].all()):
        raise IngestError(
            f"{path}: could not map the CSV reader's rejected records to lines; "
            "check the file's quoting and load it again"
        )
    ok_idx = np.setdiff1d(data, struct_idx, assume_unique=True)
    n_columns = len(plan.header.columns)

    def located() -> Iterator[tuple[int, str, str]]:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:

            def record(i: int) -> tuple[int, str]:
                start, end = int(spans.start[i]), int(spans.end[i])
                return int(spans.line[i]), csvfile.span_text(buf, start, end, plan.header.has_bom)

            for (_, msg), i in zip(structural, struct_idx, strict=True):
                line, text = record(int(i))
                yield line, _structural_reason(msg, text, n_columns), text
            while batch := rule_rows.fetchmany(REJECT_BATCH_ROWS):
                for position, reason in batch:
                    line, text = record(int(ok_idx[position]))
                    if reason == FIELDS:
                        reason = _structural_reason("MISSING COLUMNS", text, n_columns)
                    yield line, reason, text

    return located()


def _structural_reason(msg: str, text: str, n_columns: int) -> str:
    if "INVALID ENCODING" in msg or "INVALID UNICODE" in msg:
        return "record is not valid UTF-8"
    if "MISSING COLUMNS" in msg or "TOO MANY COLUMNS" in msg:
        fields = csvfile.parse_record(text)
        return (
            f"wrong number of fields: {len(fields)} instead of {n_columns} "
            "(the header's column count)"
        )
    return msg
