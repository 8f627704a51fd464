"""Low-level facts about a CSV file: its records, its line ends and where each record starts
(DuckDB numbers records, not lines, when quoted fields hold line breaks)."""

from __future__ import annotations

import contextlib
import csv
import io
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.errors import IngestError

_LF, _CR, _NONE = ord("\n"), ord("\r"), np.zeros(0, np.int64)


def parse_record(text: str) -> list[str]:
    """The fields of one CSV record (RFC 4180 quoting, any field length); [] for no record."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    return next(csv.reader(io.StringIO(text, newline="")), [])


@dataclass(frozen=True)
class RecordSpans:
    """Every record (header and blank lines included), in file order: byte offsets
    ``start`` and ``end`` (terminator excluded) and the 1-based physical ``line``."""

    start: np.ndarray
    end: np.ndarray
    line: np.ndarray

    def data_index(self) -> np.ndarray:
        """Indices of the data records: not the header, not blank."""
        idx = np.flatnonzero(self.end != self.start)
        return idx[idx > 0]


def has_line_over(mm: mmap.mmap, limit: int) -> bool:
    """Whether ``limit`` bytes in a row hold no line feed (a window at a time: cheap)."""
    start = 0
    while start + limit < len(mm):
        if (lf := mm.rfind(b"\n", start, start + limit)) < 0:
            return True
        start = lf + 1
    return False


def _offsets(buf: np.ndarray, byte: int) -> np.ndarray:
    """Where ``byte`` is in ``buf``, 4 MB at a time (a file-sized temporary is slow to map)."""
    at = [np.flatnonzero(buf[i : i + (1 << 22)] == byte) + i for i in range(0, len(buf), 1 << 22)]
    return np.concatenate(at or [_NONE])


def scan(path: Path) -> tuple[RecordSpans, bool, np.ndarray | None]:
    """The records of ``path`` by quote parity (a LF ends a record after an even number of
    quotes; exact for RFC 4180, a quote inside an unquoted field breaks it), whether a quoted
    field holds a line break and, if records end in both LF and CRLF, the offsets of the CRs
    of the CRLF ends. :class:`IngestError` if a CR outside quotes does not end a line."""
    with path.open("rb") as f:  # unmapped when the last array over it goes
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    mm.madvise(mmap.MADV_WILLNEED)
    buf = np.frombuffer(mm, dtype=np.uint8)
    quotes, lfs, crs = (_offsets(buf, b) if mm.find(bytes([b])) >= 0 else _NONE for b in b'"\n\r')

    def outside(at: np.ndarray) -> np.ndarray:
        return np.searchsorted(quotes, at) % 2 == 0 if len(quotes) else np.ones(len(at), bool)

    is_end = outside(lfs)
    ends = lfs[is_end] if len(quotes) else lfs
    crlf = (ends > 0) & (buf[np.maximum(ends - 1, 0)] == _CR) if len(crs) else ends < 0
    after = buf[np.minimum(crs + 1, len(buf) - 1)]  # a CR must end a line: LF after it
    if len(stray := crs[((after != _LF) | (crs + 1 == len(buf))) & outside(crs)]):
        raise IngestError(
            f"{path}: line {np.searchsorted(lfs, stray[0]) + 1}: a carriage return (CR) outside "
            "quotes that does not end the line; quote the field that holds it (RFC 4180) or "
            "remove it, and load the file again"
        )
    start = np.concatenate(([0], ends + 1))
    end = np.concatenate((ends, [len(buf)]))
    line = np.concatenate(([1], np.flatnonzero(is_end) + 2))  # a record starts after its LF
    if start[-1] >= len(buf):  # the file ends with a terminator: no record after it
        start, end, line = start[:-1], end[:-1], line[:-1]
    if len(crs):
        end -= (end > start) & (buf[np.maximum(end - 1, 0)] == _CR)
    mixed_crs = ends[crlf] - 1 if crlf.any() and not crlf.all() else None
    return RecordSpans(start, end, line), len(ends) < len(lfs), mixed_crs


def record_spans_exact(path: Path) -> RecordSpans:
    """Slow, exact record spans from Python's :mod:`csv` state machine."""
    data = path.read_bytes()
    csv.field_size_limit(max(csv.field_size_limit(), len(data)))
    offsets = [0]  # offsets[k]: where physical line k + 1 starts

    def physical_lines() -> Iterator[str]:
        while offsets[-1] < len(data):
            nl = data.find(b"\n", offsets[-1])
            offsets.append(len(data) if nl < 0 else nl + 1)
            yield data[offsets[-2] : offsets[-1]].decode("utf-8", errors="surrogateescape")

    spans: list[tuple[int, int, int]] = []
    reader, consumed = csv.reader(physical_lines()), 0
    with contextlib.suppress(csv.Error):  # the reader stops where the quoting breaks
        for _ in reader:
            first, consumed = consumed, reader.line_num
            last = offsets[consumed]
            cut = 2 if data[max(last - 2, 0) : last] == b"\r\n" else data[last - 1 : last] == b"\n"
            spans.append((offsets[first], last - int(cut), first + 1))
    start, end, line = np.array(spans, dtype=np.int64).reshape(-1, 3).T
    return RecordSpans(start, end, line)
