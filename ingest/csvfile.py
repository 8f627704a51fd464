"""Low-level facts about a CSV file: its header and where each record starts.

The header is parsed here with Python's :mod:`csv` module so that DuckDB never has to
guess it. :func:`record_spans` maps records to physical lines; it is only needed when a
file has rejected rows (DuckDB numbers records, not physical lines, when quoted fields
contain newlines).
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.errors import HeaderError

BOM = codecs.BOM_UTF8
_QUOTE = ord('"')
_LF = ord("\n")
_CR = ord("\r")


@dataclass(frozen=True)
class Header:
    """The header record of a CSV file."""

    columns: tuple[str, ...]
    has_bom: bool


def read_header(path: Path) -> Header:
    """Parse the first record of ``path`` as the header.

    Raises :class:`HeaderError` when the file is empty, the header is blank, not UTF-8 or
    has a column name twice.
    """
    with path.open("rb") as f:
        head = f.read(1 << 16)
        while True:
            end = _first_terminator(head)
            if end is not None:
                break
            more = f.read(1 << 20)
            if not more:
                end = len(head)
                break
            head += more
    has_bom = head.startswith(BOM)
    raw = head[len(BOM) if has_bom else 0 : end]
    if b"\r" in raw:
        raise HeaderError(
            f"{path}: line 1 (header) has a carriage return (CR) that does not end a CRLF "
            "line: the file probably uses CR-only (classic Mac) line endings. Save it with LF "
            "or CRLF line endings and load it again"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError(
            f"{path}: line 1 (header) is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
            "save the file as UTF-8 and load it again"
        ) from None
    fields = parse_record(text)
    if not any(c.strip() for c in fields):
        raise HeaderError(
            f"{path}: line 1 must be a header row naming the columns, but it is empty; "
            "add the header and load the file again"
        )
    columns = tuple(c.strip() for c in fields)
    seen: set[str] = set()
    dupes = sorted({c for c in columns if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dupes:
        raise HeaderError(
            f"{path}: line 1 (header) names column(s) {', '.join(dupes)} more than once; "
            "keep one of each and load the file again"
        )
    return Header(columns=columns, has_bom=has_bom)


def allow_fields_up_to(size: int) -> None:
    """Let the :mod:`csv` module read fields up to ``size`` characters (default 128 KiB)."""
    csv.field_size_limit(max(csv.field_size_limit(), size))


def parse_record(text: str) -> list[str]:
    """The fields of one CSV record (RFC 4180 quoting, any field length); [] for no record."""
    allow_fields_up_to(len(text))
    return next(csv.reader(io.StringIO(text, newline="")), [])


def _first_terminator(buf: bytes) -> int | None:
    """Offset of the first LF outside quotes (CR before it excluded), or None."""
    in_quotes = False
    for i, b in enumerate(buf):
        if b == _QUOTE:
            in_quotes = not in_quotes
        elif b == _LF and not in_quotes:
            return i - 1 if i and buf[i - 1] == _CR else i
    return None


@dataclass(frozen=True)
class RecordSpans:
    """Every record of a file (header and blank lines included), in file order.

    ``start``/``end`` are byte offsets (``end`` excludes the line terminator) and ``line``
    is the 1-based physical line where the record starts.
    """

    start: np.ndarray
    end: np.ndarray
    line: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    @property
    def blank(self) -> np.ndarray:
        return self.end == self.start

    def data_index(self) -> np.ndarray:
        """Indices of the data records: not the header, not blank."""
        idx = np.flatnonzero(~self.blank)
        return idx[idx > 0]


def record_spans(path: Path) -> RecordSpans:
    """Find record boundaries: a LF ends a record when an even number of quotes precede it.

    This is exact for RFC 4180 files. A quote inside an unquoted field (tolerated by the
    parser as a literal) breaks the parity rule; callers compare the record count with
    the parser's and fall back to :func:`record_spans_exact`.
    """
    size = path.stat().st_size
    if size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return RecordSpans(empty, empty, empty)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        buf = np.frombuffer(mm, dtype=np.uint8)
        try:
            quotes = np.flatnonzero(buf == _QUOTE)
            lfs = np.flatnonzero(buf == _LF)
            term = lfs[(np.searchsorted(quotes, lfs) & 1) == 0]
            start, end = _spans_from_terminators(buf, term, size)
            line = np.searchsorted(lfs, start) + 1
        finally:
            del buf
    return RecordSpans(start=start, end=end, line=line.astype(np.int64))


def find_stray_cr(path: Path) -> int | None:
    """The line of the first carriage return that is outside quotes and not followed by a
    line feed (RFC 4180 allows a CR only in a quoted field or before LF), or None.

    Quote parity decides what is outside quotes, as in :func:`record_spans`: exact for
    RFC 4180 files, a best guess for the broken file this is used to diagnose.
    """
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        buf = np.frombuffer(mm, dtype=np.uint8)
        try:
            crs = np.flatnonzero(buf == _CR)
            after = buf[np.minimum(crs + 1, len(buf) - 1)]
            crs = crs[(after != _LF) | (crs + 1 == len(buf))]
            quotes = np.flatnonzero(buf == _QUOTE)
            crs = crs[(np.searchsorted(quotes, crs) & 1) == 0]
            if not len(crs):
                return None
            lfs = np.flatnonzero(buf[: int(crs[0])] == _LF)
            return len(lfs) + 1
        finally:
            del buf


def mixed_line_end_crs(path: Path, spans: RecordSpans) -> np.ndarray | None:
    """Where records end in both LF and CRLF: the offsets of the CRs of the CRLF ends
    (a CRLF inside a quoted field is data and is not one); None when the ends agree."""
    size = path.stat().st_size
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        buf = np.frombuffer(mm, dtype=np.uint8)
        try:
            # A record is terminated when a line feed follows its end: CRLF leaves the CR
            # out of the span (see _spans_from_terminators), so the LF is at end or end + 1.
            end = spans.end[(spans.end < size)]
            crlf = buf[end] == _CR
            lf_after = np.zeros(len(end), dtype=bool)
            inside = end + 1 < size
            lf_after[inside] = buf[end[inside] + 1] == _LF
            crlf &= lf_after
            if not crlf.any() or crlf.all():
                return None
            return end[crlf]
        finally:
            del buf


def copy_without(path: Path, out: Path, offsets: np.ndarray) -> None:
    """Copy ``path`` to ``out`` without the bytes at ``offsets``."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        buf = np.frombuffer(mm, dtype=np.uint8)
        try:
            keep = np.ones(len(buf), dtype=bool)
            keep[offsets] = False
            out.write_bytes(buf[keep].tobytes())
        finally:
            del buf


def _spans_from_terminators(
    buf: np.ndarray, term: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    start = np.concatenate(([0], term + 1)).astype(np.int64)
    end = np.concatenate((term, [size])).astype(np.int64)
    if start[-1] >= size:  # file ends with a terminator: no record after it
        start, end = start[:-1], end[:-1]
    cr = (end > start) & (buf[np.maximum(end - 1, 0)] == _CR)
    end = end - cr
    return start, end


def record_spans_exact(path: Path) -> RecordSpans:
    """Slow, exact record boundaries using Python's :mod:`csv` state machine."""
    data = path.read_bytes()
    allow_fields_up_to(len(data))
    offsets = [0]  # offsets[k] = byte offset where physical line k+1 starts

    def physical_lines():
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            nxt = len(data) if nl < 0 else nl + 1
            chunk = data[pos:nxt]
            pos = nxt
            offsets.append(pos)
            yield chunk.decode("utf-8", errors="surrogateescape")

    starts: list[int] = []
    ends: list[int] = []
    lines: list[int] = []
    reader = csv.reader(physical_lines())
    consumed = 0
    while True:
        try:
            next(reader)
        except (StopIteration, csv.Error):
            break
        first, consumed = consumed, reader.line_num
        last_end = offsets[consumed]
        cut = 0
        if data[max(last_end - 2, 0) : last_end] == b"\r\n":
            cut = 2
        elif data[last_end - 1 : last_end] == b"\n":
            cut = 1
        starts.append(offsets[first])
        ends.append(last_end - cut)
        lines.append(first + 1)
    return RecordSpans(
        start=np.array(starts, dtype=np.int64),
        end=np.array(ends, dtype=np.int64),
        line=np.array(lines, dtype=np.int64),
    )


def span_text(data: bytes | mmap.mmap, start: int, end: int, has_bom: bool = False) -> str:
    """The text of one record of a file's ``data`` (invalid UTF-8 bytes become U+FFFD)."""
    if start == 0 and has_bom:
        start = len(BOM)
    return data[start:end].decode("utf-8", errors="replace")
