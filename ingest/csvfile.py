"""Low-level facts about a CSV file: its header, its line ends and where each record starts.

The header is parsed with Python's :mod:`csv` module so that DuckDB never has to guess it.
Record spans map records to physical lines; they are only needed when a file has rejects
(DuckDB numbers records, not physical lines, when quoted fields hold line breaks).
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.errors import HeaderError

BOM = codecs.BOM_UTF8
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]
    has_bom: bool


def read_header(path: Path) -> Header:
    """Parse the first record of ``path`` as the header; :class:`HeaderError` when the file
    is empty, or the header is blank, not UTF-8 or names a column twice."""
    with path.open("rb") as f:
        head = f.read(1 << 16)
        while (end := _first_terminator(head)) is None:
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
    columns = tuple(c.strip() for c in parse_record(text))
    if not any(columns):
        raise HeaderError(
            f"{path}: line 1 must be a header row naming the columns, but it is empty; "
            "add the header and load the file again"
        )
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise HeaderError(
            f"{path}: line 1 (header) names column(s) {', '.join(dupes)} more than once; "
            "keep one of each and load the file again"
        )
    return Header(columns=columns, has_bom=has_bom)


def parse_record(text: str) -> list[str]:
    """The fields of one CSV record (RFC 4180 quoting, any field length); [] for no record."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
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


def _bytes(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint8)


def _outside_quotes(quotes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Which ``offsets`` an even number of quotes precede: outside quotes, for RFC 4180."""
    return (np.searchsorted(quotes, offsets) & 1) == 0


@dataclass(frozen=True)
class LineEnds:
    """How a file's lines end, by quote parity (exact for RFC 4180 files)."""

    #: Line of the first CR outside quotes that does not end a line (RFC 4180 allows none).
    stray_cr_line: int | None
    #: Whether a quoted field holds a line feed.
    quoted_line_break: bool
    #: When records end in both LF and CRLF, the offsets of the CRs of the CRLF ends.
    mixed_crs: np.ndarray | None


def line_ends(path: Path) -> LineEnds:
    if path.stat().st_size == 0:
        return LineEnds(None, False, None)
    buf = _bytes(path)
    quotes, lfs = np.flatnonzero(buf == _QUOTE), np.flatnonzero(buf == _LF)
    crs = np.flatnonzero(buf == _CR)
    ends = lfs[_outside_quotes(quotes, lfs)]
    crlf = (ends > 0) & (buf[np.maximum(ends - 1, 0)] == _CR)
    stray = crs[_outside_quotes(quotes, crs) & ~np.isin(crs + 1, ends)]
    stray_line = int(np.searchsorted(lfs, stray[0])) + 1 if len(stray) else None
    mixed = ends[crlf] - 1 if crlf.any() and not crlf.all() else None
    return LineEnds(stray_line, len(ends) < len(lfs), mixed)


def copy_without(path: Path, out: Path, offsets: np.ndarray) -> None:
    """Copy ``path`` to ``out`` without the bytes at ``offsets``."""
    buf = _bytes(path)
    keep = np.ones(len(buf), dtype=bool)
    keep[offsets] = False
    out.write_bytes(buf[keep].tobytes())


@dataclass(frozen=True)
class RecordSpans:
    """Every record of a file (header and blank lines included), in file order: byte
    offsets ``start`` and ``end`` (line terminator excluded), and the 1-based physical
    ``line`` where it starts."""

    start: np.ndarray
    end: np.ndarray
    line: np.ndarray
    #: From Python's csv module (True) or from quote parity (False).
    exact: bool = False

    def __len__(self) -> int:
        return len(self.start)

    def data_index(self) -> np.ndarray:
        """Indices of the data records: not the header, not blank."""
        idx = np.flatnonzero(self.end != self.start)
        return idx[idx > 0]


def record_spans(path: Path) -> RecordSpans:
    """Record boundaries by quote parity: a LF ends a record when an even number of quotes
    precede it. A quote inside an unquoted field breaks the rule; callers compare the record
    count with the parser's and fall back to :func:`record_spans_exact`."""
    size = path.stat().st_size
    if size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return RecordSpans(empty, empty, empty, exact=True)
    buf = _bytes(path)
    quotes, lfs = np.flatnonzero(buf == _QUOTE), np.flatnonzero(buf == _LF)
    term = lfs[_outside_quotes(quotes, lfs)]
    start = np.concatenate(([0], term + 1)).astype(np.int64)
    end = np.concatenate((term, [size])).astype(np.int64)
    if start[-1] >= size:  # the file ends with a terminator: no record after it
        start, end = start[:-1], end[:-1]
    end = end - ((end > start) & (buf[np.maximum(end - 1, 0)] == _CR))
    return RecordSpans(start, end, (np.searchsorted(lfs, start) + 1).astype(np.int64))


def record_spans_exact(path: Path) -> RecordSpans:
    """Slow, exact record boundaries from Python's :mod:`csv` state machine."""
    data = path.read_bytes()
    csv.field_size_limit(max(csv.field_size_limit(), len(data)))
    offsets = [0]  # offsets[k]: where physical line k + 1 starts

    def physical_lines() -> Iterator[str]:
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            pos = len(data) if nl < 0 else nl + 1
            offsets.append(pos)
            yield data[offsets[-2] : pos].decode("utf-8", errors="surrogateescape")

    starts, ends, lines = [], [], []
    reader, consumed = csv.reader(physical_lines()), 0
    while True:
        try:
            next(reader)
        except (StopIteration, csv.Error):
            break
        first, consumed = consumed, reader.line_num
        last = offsets[consumed]
        cut = 2 if data[max(last - 2, 0) : last] == b"\r\n" else int(data[last - 1 : last] == b"\n")
        starts.append(offsets[first])
        ends.append(last - cut)
        lines.append(first + 1)
    as_array = lambda values: np.array(values, dtype=np.int64)  # noqa: E731
    return RecordSpans(as_array(starts), as_array(ends), as_array(lines), exact=True)


def span_text(data: bytes | mmap.mmap, start: int, end: int, has_bom: bool = False) -> str:
    """The text of one record (invalid UTF-8 bytes become U+FFFD)."""
    if start == 0 and has_bom:
        start = len(BOM)
    return data[start:end].decode("utf-8", errors="replace")
