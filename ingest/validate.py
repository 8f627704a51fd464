"""Read and check one CSV file in DuckDB: the one read path of every warehouse.

:func:`open_read` checks the header and decides the read options before any write (an LF
copy if records end in both LF and CRLF, one thread if quoted fields hold line breaks).
:func:`write_rows` runs the one statement that writes every parsed record, typed, with its
``_reject_reason``; :func:`_locate` maps the rejects to physical lines and their text.
"""

from __future__ import annotations

import codecs
import contextlib
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
from ingest.errors import HeaderError, IngestError, MissingColumnError
from ingest.schemas import REJECT_RECORD_COLUMNS, TableSchema

log = logging.getLogger(__name__)

#: Files up to this size map records to lines with Python's csv module (exact, slower).
EXACT_SPANS_MAX_BYTES = 64 << 20
#: Longest record accepted (a longer one is rejected). Past the reader's default (2 MB) its
#: buffers must grow too, which leaves less to read in parallel: only for files that need it.
MAX_LINE_BYTES, DEFAULT_MAX_LINE_BYTES = 64 << 20, 2_000_000
REASON = "_reject_reason"
#: Placeholder reason for a wrong field count, replaced once the record text is known.
FIELDS = "wrong number of fields"


#: A slice's counts: rows in file, rows loaded, rows rejected.
Counts = tuple[int, int, int]


@dataclass(frozen=True)
class LoadResult:
    """One file load: its lineage, then its outcome (``rows_in_file = loaded + rejected``)."""

    table: str
    file_date: date
    source_file: str
    load_id: str
    loaded_at: datetime
    rows_in_file: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    extra_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    def audit_line(self) -> str:
        extra = f"; ignored columns: {', '.join(self.extra_columns)}" if self.extra_columns else ""
        return (
            f"{self.table} {self.file_date.isoformat()} ({self.source_file}): "
            f"rows in file {self.rows_in_file} = loaded {self.rows_loaded} + rejected "
            f"{self.rows_rejected} [{self.seconds:.2f}s]{extra}"
        )


def check_header(schema: TableSchema, path: Path) -> tuple[str, ...]:
    """The header's column names, parsed with Python's :mod:`csv` (DuckDB never guesses it);
    refuses ``path`` if it is missing, empty, not UTF-8, CR-terminated, names a column twice
    or lacks a required column of ``schema``. Reads only the first record: callers may check
    every file of a run before loading any."""
    if not path.is_file():
        raise IngestError(f"{path}: file not found; check the source directory and the date")
    with path.open("rb") as f:  # up to the first LF outside quotes
        head = f.readline()
        while head.count(b'"') % 2 and (more := f.readline()):
            head += more
    raw = head.removeprefix(codecs.BOM_UTF8).removesuffix(b"\n")
    raw = raw.removesuffix(b"\r") if head.endswith(b"\n") else raw

    def refuse(problem: str) -> HeaderError:
        return HeaderError(f"{path}: line 1 {problem} and load it again")

    if b"\r" in raw:
        raise refuse(
            "(header) has a carriage return (CR) that does not end a CRLF line: the file "
            "probably uses CR-only (classic Mac) line endings. Save it with LF or CRLF line "
            "endings"
        )
    try:
        header = tuple(c.strip() for c in csvfile.parse_record(raw.decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise refuse(
            f"(header) is not valid UTF-8 ({exc.reason} at byte {exc.start}); save the file "
            "as UTF-8"
        ) from None
    if not any(header):
        raise refuse("must be a header row naming the columns, but it is empty; add the header")
    if dupes := sorted({c for c in header if header.count(c) > 1}):
        raise refuse(
            f"(header) names column(s) {', '.join(dupes)} more than once; keep one of each"
        )
    if missing := [c.name for c in schema.columns if c.required and c.name not in header]:
        raise MissingColumnError(
            f"{path}: header (line 1) is missing required column(s) {', '.join(missing)} for "
            f"table {schema.name}; found columns: {', '.join(header) or '(none)'}. "
            "Nothing was loaded from this file and the warehouse is unchanged: fix the header "
            "(columns are matched by name, in any order) and load the file again."
        )
    return header


@dataclass(frozen=True)
class FileRead:
    """How DuckDB reads and checks one file, decided before any write."""

    schema: TableSchema
    path: Path
    header: tuple[str, ...]
    extra_columns: tuple[str, ...]
    read_path: Path  # ``path``, a link to it or its copy with LF line ends
    parallel: bool
    long_records: bool
    parity_spans: csvfile.RecordSpans | None  # when the read options needed them

    def select(self, rejects: str) -> str:
        """The one read: every parsed record, typed, with its ``_reject_reason``, in file
        order; the records the reader cannot take go to the temporary table ``rejects``."""
        # A sentinel column past the header, null padding and a NULL string that never
        # occurs: a missing trailing field is NULL, an empty one '', a surplus one fills it.
        header, names = self.header, [f"c{i}" for i in range(len(self.header))] + ["c_surplus"]
        spec = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        source = {c: f"c{header.index(c)}" for c in self.schema.column_names if c in header}
        source = {c: source.get(c, "NULL::VARCHAR") for c in self.schema.column_names}
        helpers, typed, valid, reason = rules.row_sql(self.schema, source)
        fields_bad = f"(c_surplus IS NOT NULL OR c{len(header) - 1} IS NULL)"
        size = f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES}, "
        return (
            f"SELECT {typed}, CASE WHEN NOT {fields_bad} AND {valid} THEN NULL "
            f"WHEN {fields_bad} THEN '{FIELDS}' ELSE {reason} END AS {REASON} "
            f"FROM (SELECT *, {helpers} FROM read_csv({rules.quote_literal(str(self.read_path))}, "
            f"columns = {spec}, header = true, auto_detect = false, delim = ',', quote = '\"', "
            "escape = '\"', encoding = 'utf-8', null_padding = true, nullstr = '\\x00', "
            f"strict_mode = true, {size if self.long_records else ''}"
            f"parallel = {str(self.parallel).lower()}, store_rejects = true, "
            f"rejects_table = '{rejects}', rejects_scan = '{rejects}_scan'))"
        )


@contextlib.contextmanager
def open_read(schema: TableSchema, path: Path) -> Iterator[FileRead]:
    """Check ``path``'s header and decide how to read it; a copy, if needed, lives in the block."""
    path = Path(path)
    header, known = check_header(schema, path), schema.column_names
    extra = tuple(c or f"(unnamed column {i})" for i, c in enumerate(header, 1) if c not in known)
    if extra:
        log.warning("%s: ignoring unknown column(s) %s", path, ", ".join(extra))
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        odd = mm.find(b"\r") >= 0 or mm.find(b'"') >= 0  # else each line is a record
        spans, multiline, mixed_crs = csvfile.scan(path) if odd else (None, False, None)
        long_records = (
            bool((spans.end - spans.start).max(initial=0) > DEFAULT_MAX_LINE_BYTES)
            if odd
            else csvfile.has_line_over(mm, DEFAULT_MAX_LINE_BYTES)
        )
    if multiline:
        log.info("%s: quoted line breaks; reading the file in a single thread", path)
    with tempfile.TemporaryDirectory(prefix="nj-read-") as tmp:
        # DuckDB expands *, ? and [ in a path, with no escape: such a path is read via a link.
        read_path = Path(tmp) / "input.csv"
        if mixed_crs is not None:
            log.info("%s: both LF and CRLF line ends; reading a copy with LF", path)
            read_path.write_bytes(np.delete(np.fromfile(path, np.uint8), mixed_crs).tobytes())
        elif set("*?[") & set(str(path.absolute())):
            read_path.symlink_to(path.absolute())
        else:
            read_path = path
        yield FileRead(schema, path, header, extra, read_path, not multiline, long_records, spans)


def write_rows(
    con: duckdb.DuckDBPyConnection,
    plan: FileRead,
    statement: Callable[[str], str],
    table: str,
    where: str = "true",
) -> tuple[Counts, int, str]:
    """Run ``statement(select)``, which writes every record of the one read into the rows of
    ``table`` matching ``where``; then count and locate the rejects. Returns the counts, the
    rowid of the first record and the temporary table of the rejects."""
    rejects = f"nj_rej_{uuid.uuid4().hex[:12]}"
    try:
        try:
            (n_parsed,) = con.execute(statement(plan.select(rejects))).fetchone()  # type: ignore[misc]
        except duckdb.Error as exc:
            detail = str(exc).replace(str(plan.read_path), str(plan.path))
            raise IngestError(
                f"{plan.path}: could not be parsed as CSV ({detail}); fix the file (RFC 4180 "
                "quoting, UTF-8) and load it again"
            ) from exc
        structural = con.execute(
            f"SELECT line, string_agg(DISTINCT error_type || ': ' || error_message, '; ') "
            f"FROM temp.{rejects} GROUP BY line ORDER BY line"
        ).fetchall()
        first, n_rule = con.execute(
            f"SELECT coalesce(min(rowid), 0), count({REASON}) FROM {table} WHERE {where}"
        ).fetchone()  # type: ignore[misc]
        rejected = len(structural) + n_rule
        counts = (n_parsed + len(structural), n_parsed - n_rule, rejected)
        rule_sql = (
            f"SELECT rowid - {first}, {REASON} FROM {table} WHERE {where} AND {REASON} IS NOT NULL"
        )
        rule_rows = con.execute(rule_sql + " ORDER BY 1").fetchall() if n_rule else []
        located = _locate(plan, n_parsed, structural, rule_rows) if rejected else iter(())
        return counts, first, _rejects_table(con, f"{rejects}_located", located)
    finally:
        with contextlib.suppress(duckdb.TransactionException):  # aborted: rolled back anyway
            con.execute(
                f"DROP TABLE IF EXISTS temp.{rejects}; DROP TABLE IF EXISTS temp.{rejects}_scan"
            )


def _rejects_table(con: duckdb.DuckDBPyConnection, name: str, rejects: Iterator[tuple]) -> str:
    """A temporary table of ``rejects``, through a JSON-lines file: bound parameters would
    import pandas, and literal ``VALUES`` grow slow."""
    names = [c.name for c in REJECT_RECORD_COLUMNS]
    columns = ", ".join(f"{c.name}: '{rules.SQL_TYPES[c.type]}'" for c in REJECT_RECORD_COLUMNS)
    with tempfile.TemporaryDirectory(prefix="nj-rejects-") as tmp:
        path, longest = Path(tmp) / "rejects.ndjson", 0
        with path.open("w", encoding="utf-8") as f:
            for values in rejects:
                line = json.dumps(dict(zip(names, values, strict=True)))
                longest = max(longest, len(line))
                f.write(line + "\n")
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json('{path}', "
            f"format = 'newline_delimited', columns = {{{columns}}}, "
            f"maximum_object_size = {max(longest + 1, 1 << 24)}) ORDER BY line_number"
        )
    return f"temp.{name}"


def _locate(
    plan: FileRead, n_parsed: int, structural: list[tuple[int, str]], rule_rows: list[tuple]
) -> Iterator[tuple[int, str, str]]:
    """Reader rejects (record numbers) and rule rejects (parsed-row positions) as (physical
    line, reason, original text); raises before yielding when records do not map to lines."""
    path, n_records = plan.path, n_parsed + len(structural)
    # Large files by quote parity, if it finds the records the reader parsed; else exactly.
    big = path.stat().st_size > EXACT_SPANS_MAX_BYTES
    spans = (plan.parity_spans or csvfile.scan(path)[0]) if big else None
    if spans is None or len(spans.data_index()) != n_records:
        spans = csvfile.record_spans_exact(path)
    data = spans.data_index()
    if len(data) != n_records:
        raise IngestError(
            f"{path}: found {len(data)} data records but the CSV reader parsed {n_records}; "
            "the file's quoting is probably broken (an unbalanced '\"'). Fix the quoting and "
            "load the file again"
        )
    # The reader numbers records from 1 with the header and blank lines included.
    struct_idx = np.array([line - 1 for line, _ in structural], dtype=np.int64)
    at = np.searchsorted(data, struct_idx)  # data is sorted
    if len(at) and (at.max() >= len(data) or (data[at] != struct_idx).any()):
        raise IngestError(
            f"{path}: could not map the CSV reader's rejected records to lines; check the "
            "file's quoting and load it again"
        )
    ok_idx = np.delete(data, at)
    todo = [(int(i), msg) for i, (_, msg) in zip(struct_idx, structural, strict=True)]
    todo += [(int(ok_idx[position]), reason) for position, reason in rule_rows]
    n_columns = len(plan.header)

    def located() -> Iterator[tuple[int, str, str]]:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            for i, why in todo:
                text = buf[spans.start[i] : spans.end[i]].decode("utf-8", "replace")
                if why == FIELDS or "MISSING COLUMNS" in why or "TOO MANY COLUMNS" in why:
                    n = len(csvfile.parse_record(text))
                    why = f"{FIELDS}: {n} instead of {n_columns} (the header's column count)"
                elif "INVALID ENCODING" in why or "INVALID UNICODE" in why:
                    why = "record is not valid UTF-8"
                yield int(spans.line[i]), why, text

    return located()
