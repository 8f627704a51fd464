"""Where the daily drops come from: ``<source>/<table>/<YYYY-MM-DD>.csv``, in a local folder
or (production) a ``gs://bucket/prefix``, whose run's files are downloaded into a temporary
folder of the same layout and then loaded exactly like local files."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.schemas import TABLES

log = logging.getLogger(__name__)


def expected_path(source_dir: Path, table: str, file_date: date) -> Path:
    """Where the drop for ``table`` and ``file_date`` lives: ``<source-dir>/<table>/<date>.csv``."""
    return Path(source_dir) / table / f"{file_date.isoformat()}.csv"


def is_gcs(source: str | Path) -> bool:
    return str(source).startswith("gs://")


def split_gcs(source: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix/`` -> (``bucket``, ``some/prefix``)."""
    bucket, _, prefix = source.removeprefix("gs://").partition("/")
    if not bucket:
        raise IngestError(f"{source}: no bucket name; use gs://<bucket>/<prefix>")
    return bucket, prefix.strip("/")


def download_drops(
    source: str, dates: Iterable[date], dest: Path, client: Any | None = None
) -> list[Path]:
    """Copy ``<source>/<table>/<date>.csv`` of every date and table into ``dest`` (same
    layout), skipping missing objects (the ingest reports missing files); the files written."""
    from google.api_core.exceptions import NotFound  # the bigquery extra
    from google.cloud import storage

    client = client or storage.Client()
    bucket_name, prefix = split_gcs(source)
    bucket, written = client.bucket(bucket_name), []
    for day in dates:
        for table in TABLES:
            name = "/".join(p for p in (prefix, table, f"{day.isoformat()}.csv") if p)
            target = expected_path(dest, table, day)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                bucket.blob(name).download_to_filename(str(target))
            except NotFound:
                target.unlink(missing_ok=True)
                log.info("gs://%s/%s: not found", bucket_name, name)
                continue
            log.info("downloaded gs://%s/%s (%d bytes)", bucket_name, name, target.stat().st_size)
            written.append(target)
    return written


@contextlib.contextmanager
def local_drops(
    source: str | Path,
    dates: Iterable[date],
    download: Callable[[str, list[date], Path], object] = download_drops,
) -> Iterator[Path]:
    """A local folder with the drops of ``dates``: ``source`` itself, or a temporary copy of a
    ``gs://`` prefix made by ``download`` (the flow passes its retried task), removed on exit."""
    if not is_gcs(source):
        yield Path(source)
        return
    with tempfile.TemporaryDirectory(prefix="nightjar-drops-") as tmp:
        download(str(source), list(dates), Path(tmp))
        yield Path(tmp)
