"""Parse, type and validate one CSV file in DuckDB, independently of the target warehouse.

:func:`validate_file` reads the file once with DuckDB's CSV reader (every column as
VARCHAR, columns named from the header parsed in Python, no sniffing) into a temporary
table whose ``rowid`` is the record's position in the file. The same parallel pass
parses and checks every value (see :mod:`ingest.rules`): the temporary table holds the
typed values plus a reason column, NULL for valid rows, built only for the (normally
few) bad ones. Structural problems (wrong field count, invalid UTF-8) are caught by the
reader's reject store. Valid rows are never copied again here:
:attr:`ValidatedFile.valid_sql` is a plain projection of the temporary table, and the
warehouse writes them in a single pass.

:func:`plan_read` checks the header and builds that read (:class:`FileRead`); a warehouse
may also insert straight from it. The DuckDB warehouse does so for every file, and calls
:func:`validate_read` only to locate the rejects (without values) or for a file its one
pass cannot read (see :mod:`ingest.warehouse.duckdb_warehouse`).

Physical line numbers are only computed when the file has rejects (see
:mod:`ingest.csvfile`). DuckDB's parallel reader refuses some files with quoted line
breaks (it cannot pad missing fields there); those are read again in a single thread.
Its strict mode refuses a file whose records end in both LF and CRLF; such a file is
read, as strictly, from a copy whose records all end in LF.
"""

from __future__ import annotations

import functools
import json
import logging
import mmap
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from ingest import csvfile, rules
from ingest.errors import IngestError, MissingColumnError
from ingest.schemas import REJECT_RECORD_COLUMNS, TableSchema

log = logging.getLogger(__name__)

#: Files up to this size get exact (Python csv) record boundaries when they have rejects;
#: larger ones use the vectorised quote-parity scan, cross-checked against the reader.
EXACT_SPANS_MAX_BYTES = 64 << 20
#: Longest record accepted (a record longer than this is rejected).
MAX_LINE_BYTES = 64 << 20
#: Record length limit of the first read (DuckDB's default); see :func:`validate_file`.
READ_MAX_LINE_BYTES = 2_000_000
#: Placeholder reason for a wrong field count, replaced once the record text is known.
FIELDS = "wrong number of fields"
#: DuckDB's error when its parallel CSV reader cannot handle a file (read it serially).
SERIAL_ONLY_MESSAGE = "does not support null_padding in conjunction with quoted new lines"
#: Column of the temporary table holding a row's reject reason (NULL: the row is valid).
REASON = "nj_reject_reason"
#: Rule rejects read from DuckDB at a time while their text is looked up.
REJECT_BATCH_ROWS = 10_000


@dataclass(frozen=True)
class SliceCounts:
    """A file's rows: in the file, loaded and rejected (what a warehouse must write)."""

    rows_in_file: int
    rows_loaded: int
    rows_rejected: int


@dataclass
class ValidatedFile:
    """A parsed and validated file, held in temporary tables of ``con``."""

    schema: TableSchema
    path: Path
    con: duckdb.DuckDBPyConnection
    columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    rows_in_file: int
    rows_valid: int
    rows_rejected: int
    #: The valid rows, typed, with ``_source_row``; None when validated without values.
    valid_sql: str | None
    #: Temporary table of the rejects (``line_number``, ``reason``, ``line_text``), or
    #: None when there are none.
    rejects_table: str | None
    #: Whether the records were read exactly as :meth:`FileRead.source_sql` reads them by
    #: default (so the same rows are valid as in a direct insert from it).
    read_as_planned: bool
    _temp_tables: list[str] = field(default_factory=list)

    @property
    def expected_counts(self) -> SliceCounts:
        """What a warehouse must write for this file."""
        return SliceCounts(self.rows_in_file, self.rows_valid, self.rows_rejected)

    def drop(self) -> None:
        """Drop the temporary tables."""
        for name in self._temp_tables:
            self.con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        self._temp_tables.clear()


def check_header(schema: TableSchema, path: Path) -> csvfile.Header:
    """Read ``path``'s header and refuse the file if it lacks a required column of ``schema``.

    Cheap (the first record only): callers may check every file of a run before loading any.
    Raises :class:`MissingColumnError`, or :class:`IngestError` for an unreadable header.
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
    """How DuckDB reads and checks one file: the SQL that :func:`validate_read` stages and a
    warehouse may also insert from directly (see :meth:`source_sql`)."""

    schema: TableSchema
    path: Path
    header: csvfile.Header
    #: Header columns the schema does not know (reported, ignored).
    extra_columns: tuple[str, ...]
    #: The schema's columns, typed (meaningful on valid rows), as a select list.
    typed_select: str
    #: SQL boolean: the row has the header's field count and every value is acceptable.
    valid: str
    #: SQL: NULL for a valid row, else why it is rejected.
    reason: str
    _columns_spec: str
    _parsed_list: str

    def source_sql(
        self,
        rejects: str,
        scan: str,
        *,
        read_path: Path | None = None,
        max_line: int = READ_MAX_LINE_BYTES,
        parallel: bool = True,
    ) -> str:
        """A subquery of the file's records (as VARCHAR, with the parsed helper columns) for
        :attr:`typed_select`, :attr:`valid` and :attr:`reason`; records the reader cannot
        take go to the temporary table ``rejects``."""
        path = read_path or self.path
        return (
            f"(SELECT *, {self._parsed_list} FROM read_csv("
            f"{rules.quote_literal(rules.literal_path(path))}, columns = {self._columns_spec}, "
            "header = true, "
            "auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            "encoding = 'utf-8', null_padding = true, nullstr = '\\x00', strict_mode = true, "
            f"max_line_size = {max_line}, parallel = {str(parallel).lower()}, "
            f"store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{scan}'))"
        )


def plan_read(schema: TableSchema, path: Path) -> FileRead:
    """Check ``path``'s header against ``schema`` (see :func:`check_header`) and build the SQL
    that reads and checks its records. Logs the header's unknown columns."""
    path = Path(path)
    header = check_header(schema, path)
    known = set(schema.column_names)
    # An unnamed column (a trailing comma in the header, say) is reported by position.
    extra = tuple(
        c or f"(unnamed column {i})"
        for i, c in enumerate(header.columns, start=1)
        if c not in known
    )
    if extra:
        log.warning("%s: ignoring unknown column(s) %s", path, ", ".join(extra))
    # One sentinel column past the header plus null padding and a NULL string that never
    # occurs: missing trailing fields become NULL, present-but-empty ones '', and a surplus
    # field lands in the sentinel (the reader otherwise drops trailing empty fields).
    positional = [f"c{i}" for i in range(len(header.columns))] + ["c_surplus"]
    col_spec = "{" + ", ".join(f"'{p}': 'VARCHAR'" for p in positional) + "}"
    source = {c: f"c{header.columns.index(c)}" for c in schema.column_names if c in header.columns}
    for c in schema.column_names:
        source.setdefault(c, "CAST(NULL AS VARCHAR)")
    parsed_list, parsed = rules.parsed_select(schema, source)
    last = f"c{len(header.columns) - 1}"
    # Too few fields leave the last column NULL (null padding), too many fill c_surplus.
    fields_bad = f"(c_surplus IS NOT NULL OR {last} IS NULL)"
    valid = f"(NOT {fields_bad} AND {rules.valid_expr(schema, source, parsed)})"
    reason = (
        f"CASE WHEN {valid} THEN NULL WHEN {fields_bad} THEN {rules.quote_literal(FIELDS)} "
        f"ELSE {rules.reason_expr(schema, source, parsed)} END"
    )
    return FileRead(
        schema=schema,
        path=path,
        header=header,
        extra_columns=extra,
        typed_select=rules.typed_select(schema, source, parsed),
        valid=valid,
        reason=reason,
        _columns_spec=col_spec,
        _parsed_list=parsed_list,
    )


def validate_file(con: duckdb.DuckDBPyConnection, schema: TableSchema, path: Path) -> ValidatedFile:
    """Parse ``path`` against ``schema`` in ``con``; raise before any write if refused."""
    return validate_read(con, plan_read(schema, path))


def validate_read(
    con: duckdb.DuckDBPyConnection, plan: FileRead, *, values: bool = True
) -> ValidatedFile:
    """Read and check the file ``plan`` reads into temporary tables of ``con``, and locate
    its rejects; raise before any write if refused.

    Without ``values`` only the rejects are kept (for a caller that already wrote the valid
    rows from the same read): the result has no ``valid_sql``.
    """
    schema, path, header = plan.schema, plan.path, plan.header
    tag = uuid.uuid4().hex[:12]
    stage, rej, scan = f"nj_stage_{tag}", f"nj_rej_{tag}", f"nj_rejscan_{tag}"
    con.execute("SET TimeZone = 'UTC'")
    temp_tables = [stage, rej, scan]

    def stage_sql(max_line: int, parallel: bool, read_path: Path) -> str:
        source = plan.source_sql(
            rej, scan, read_path=read_path, max_line=max_line, parallel=parallel
        )
        typed = f"{plan.typed_select}, " if values else ""
        return f"CREATE TEMP TABLE {stage} AS SELECT {typed}{plan.reason} AS {REASON} FROM {source}"

    def counts() -> tuple[int, int, list[tuple[int, str]]]:
        n_parsed, n_rule_rejects = con.execute(
            f"SELECT count(*), count({REASON}) FROM {stage}"
        ).fetchone()  # type: ignore[misc]
        structural = con.execute(
            f"SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; ') "
            f"FROM temp.{rej} GROUP BY line ORDER BY line"
        ).fetchall()
        return n_parsed, n_rule_rejects, structural

    # The record scan is slow and only needed on the unusual paths: done once, when first
    # asked for (by a failed read or by rejects).
    spans = functools.cache(lambda: _spans(path))
    with tempfile.TemporaryDirectory(prefix="nj-read-") as tmp:
        read = _read_into_stage(con, path, Path(tmp), stage_sql, temp_tables, rej, spans)
        n_parsed, n_rule_rejects, structural = counts()
        if (structural or n_rule_rejects) and read.path == path:
            # Records are only mapped to lines when there are rejects. Mixed LF and CRLF
            # ends can also make DuckDB's reader reject good records without an error (a
            # quoted last field before a CRLF, in a file whose first line ends in LF).
            copy = _lf_copy(path, Path(tmp), spans())
            if copy is not None:
                _drop(con, temp_tables)
                read = _read_into_stage(
                    con, path, Path(tmp), stage_sql, temp_tables, rej, spans, copy
                )
                n_parsed, n_rule_rejects, structural = counts()

    # A record's position is its rowid in the stage, counted from the stage's first one
    # (rows written inside an open transaction are numbered from a large offset).
    first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {stage}").fetchone()[0]  # type: ignore[index]
    rejects_table = None
    if structural or n_rule_rejects:
        rejects_table = f"nj_rejects_{tag}"
        temp_tables.append(rejects_table)
        try:
            rule_rows = con.execute(
                f"SELECT rowid - {first} AS ord, {REASON} FROM {stage} WHERE {REASON} IS NOT NULL "
                "ORDER BY ord"
            )
            located = _locate(
                path, header.has_bom, len(header.columns), n_parsed, structural, rule_rows, spans()
            )
            _create_rejects_table(con, rejects_table, located)
        except BaseException:
            _drop(con, temp_tables)
            raise
        rejects_table = f"temp.{rejects_table}"

    typed_cols = ", ".join(rules.quote_ident(c) for c in schema.column_names)
    valid_sql = (
        f"SELECT {typed_cols}, rowid - {first} + 1 AS _source_row "
        f"FROM {stage} WHERE {REASON} IS NULL"
        if values
        else None
    )
    return ValidatedFile(
        schema=schema,
        path=path,
        con=con,
        columns=header.columns,
        extra_columns=plan.extra_columns,
        rows_in_file=n_parsed + len(structural),
        rows_valid=n_parsed - n_rule_rejects,
        rows_rejected=len(structural) + n_rule_rejects,
        valid_sql=valid_sql,
        rejects_table=rejects_table,
        read_as_planned=read == _Read(path, READ_MAX_LINE_BYTES, True),
        _temp_tables=temp_tables,
    )


def _create_rejects_table(
    con: duckdb.DuckDBPyConnection, name: str, rejects: Iterator[tuple[int, str, str]]
) -> None:
    """Create the temporary table ``name`` of ``rejects`` (line number, reason, text).

    They go through a newline-delimited JSON file, one at a time, rather than query
    parameters: binding any parameter makes DuckDB's Python client import pandas (about
    0.4 s warm, seconds cold), and literal ``VALUES`` grow slow past a few thousand rows.
    """
    names = [c.name for c in REJECT_RECORD_COLUMNS]
    columns = ", ".join(
        f"{rules.quote_literal(c.name)}: {rules.quote_literal(rules.SQL_TYPES[c.type])}"
        for c in REJECT_RECORD_COLUMNS
    )
    with tempfile.TemporaryDirectory(prefix="nj-rejects-") as tmp:
        path = Path(tmp) / "rejects.ndjson"
        longest = 0
        with path.open("w", encoding="utf-8") as f:
            for line_number, reason, text in rejects:
                # Formatted by hand, three times faster than dumping a dict per row.
                line = (
                    f'{{"line_number": {int(line_number)}, "reason": {json.dumps(reason)}, '
                    f'"line_text": {json.dumps(text)}}}\n'
                )
                longest = max(longest, len(line))
                f.write(line)
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT {', '.join(names)} FROM read_json("
            f"{rules.quote_literal(str(path))}, format = 'newline_delimited', "
            f"columns = {{{columns}}}, maximum_object_size = {max(longest, 1 << 24)}) "
            "ORDER BY line_number"
        )


def _drop(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _lf_copy(path: Path, tmp: Path, spans: csvfile.RecordSpans) -> Path | None:
    """When ``path``'s records end in both LF and CRLF, a copy in ``tmp`` whose records all
    end in LF (same records, same line numbers); None when the ends agree.

    DuckDB's parallel reader refuses such a file, its single-threaded one misreads it, and
    with quoted last fields it can reject good records without an error; all read the copy
    as strictly. Line numbers and reject texts still come from the original.
    """
    crs = csvfile.mixed_line_end_crs(path, spans)
    if crs is None:
        return None
    log.info("%s: both LF and CRLF line ends; reading a copy with LF", path)
    copy = tmp / path.name
    csvfile.copy_without(path, copy, crs)
    return copy


@dataclass(frozen=True)
class _Read:
    """How the stage was read in the end: which file, the line limit, in parallel or not."""

    path: Path
    max_line: int
    parallel: bool


def _read_into_stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tmp: Path,
    stage_sql: Callable[[int, bool, Path], str],
    temp_tables: list[str],
    rejects: str,
    spans: Callable[[], csvfile.RecordSpans],
    read_path: Path | None = None,
) -> _Read:
    """Run ``stage_sql`` on ``path`` (or on ``read_path``, a copy of it), handling what
    DuckDB's strict reader refuses; returns how it read the file. ``spans`` gives the file's
    record scan (see :func:`_lf_copy`).

    The reader's buffers grow with max_line_size, and a large one leaves little to read
    in parallel: read with the usual limit, and again with the large one only when a
    record was longer (the reader files those as rejects).
    """
    parallel, read_path = True, read_path or path
    for max_line in (READ_MAX_LINE_BYTES, MAX_LINE_BYTES):
        while True:
            try:
                con.execute(stage_sql(max_line, parallel, read_path))
                break
            except duckdb.Error as exc:
                _drop(con, temp_tables)
                copy = _lf_copy(path, tmp, spans()) if read_path == path else None
                if copy is not None:
                    read_path = copy
                    continue
                if parallel and SERIAL_ONLY_MESSAGE in str(exc):
                    # DuckDB's parallel reader refuses some files with quoted line breaks
                    # when missing fields are padded; the single-threaded reader takes them.
                    log.info("%s: quoted line breaks; reading the file in a single thread", path)
                    parallel = False
                    continue
                _refuse_stray_cr(path)
                # The reader may have been reading a copy: name the file the user gave.
                detail = str(exc).replace(rules.literal_path(read_path), str(path))
                detail = detail.replace(str(read_path), str(path))
                raise IngestError(
                    f"{path}: could not be parsed as CSV ({detail}); fix the file (RFC 4180 "
                    "quoting, UTF-8) and load it again"
                ) from exc
        too_long = con.execute(
            f"SELECT count(*) FROM temp.{rejects} WHERE error_type = 'LINE SIZE OVER MAXIMUM'"
        ).fetchone()[0]  # type: ignore[index]
        if not too_long or max_line == MAX_LINE_BYTES:
            break
        _drop(con, temp_tables)
    return _Read(read_path, max_line, parallel)


def _refuse_stray_cr(path: Path) -> None:
    """Raise, naming the line, when ``path`` has a carriage return outside quotes that does
    not end a line (the usual reason DuckDB's reader cannot read a file)."""
    line = csvfile.find_stray_cr(path)
    if line is not None:
        raise IngestError(
            f"{path}: line {line}: a carriage return (CR) outside quotes that does not end the "
            "line; quote the field that holds it (RFC 4180) or remove it, and load the file "
            "again"
        )


def _exact_scan_affordable(path: Path) -> bool:
    return path.stat().st_size <= EXACT_SPANS_MAX_BYTES


def _spans(path: Path) -> csvfile.RecordSpans:
    """Every record's span: exact (Python's csv) up to EXACT_SPANS_MAX_BYTES, else by quote
    parity (exact for RFC 4180 files)."""
    if _exact_scan_affordable(path):
        return csvfile.record_spans_exact(path)
    return csvfile.record_spans(path)


def _record_spans(path: Path, n_records: int, spans: csvfile.RecordSpans) -> csvfile.RecordSpans:
    """``spans`` (from :func:`_spans`), checked against the ``n_records`` DuckDB's reader
    parsed; the exact scan replaces a quote-parity one that disagrees."""
    if len(spans.data_index()) != n_records and not _exact_scan_affordable(path):
        log.info("%s: quote-parity record scan disagrees; using the exact scan", path)
        spans = csvfile.record_spans_exact(path)
    found = len(spans.data_index())
    if found != n_records:
        _refuse_stray_cr(path)
        raise IngestError(
            f"{path}: found {found} data records but the CSV reader parsed {n_records}; "
            "the file's quoting is probably broken (an unbalanced '\"'). Fix the quoting and "
            "load the file again"
        )
    return spans


def _locate(
    path: Path,
    has_bom: bool,
    n_columns: int,
    n_parsed: int,
    structural: list[tuple[int, str]],
    rule_rows: duckdb.DuckDBPyConnection,
    spans: csvfile.RecordSpans,
) -> Iterator[tuple[int, str, str]]:
    """Turn reader rejects (record numbers) and rule rejects (parsed-row positions, read in
    batches from ``rule_rows``) into (physical line number, reason, original record text).

    Raises :class:`IngestError` before yielding anything when the records cannot be mapped
    to lines."""
    spans = _record_spans(path, n_parsed + len(structural), spans)
    data = spans.data_index()
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
    return _located(path, has_bom, n_columns, spans, structural, struct_idx, ok_idx, rule_rows)


def _located(
    path: Path,
    has_bom: bool,
    n_columns: int,
    spans: csvfile.RecordSpans,
    structural: list[tuple[int, str]],
    struct_idx: np.ndarray,
    ok_idx: np.ndarray,
    rule_rows: duckdb.DuckDBPyConnection,
) -> Iterator[tuple[int, str, str]]:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:

        def located(i: int) -> tuple[int, str]:
            text = csvfile.span_text(buf, int(spans.start[i]), int(spans.end[i]), has_bom)
            return int(spans.line[i]), text

        for (_, msg), i in zip(structural, struct_idx, strict=True):
            line, text = located(int(i))
            yield line, _structural_reason(msg, text, n_columns), text
        while batch := rule_rows.fetchmany(REJECT_BATCH_ROWS):
            for ord_, reason in batch:
                line, text = located(int(ok_idx[ord_]))
                if reason == FIELDS:
                    reason = _structural_reason("MISSING COLUMNS", text, n_columns)
                yield line, reason, text


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
