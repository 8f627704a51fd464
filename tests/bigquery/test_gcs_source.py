"""``--source-dir gs://bucket/prefix``: the run's drops are copied locally, same layout.

Cloud Storage cannot run here: :class:`StandInStorageClient` is the one stand-in for it,
serving objects from a local folder through the two calls the download uses.
"""

from __future__ import annotations

import functools
import shutil
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("google.api_core", reason="needs the bigquery extra")
from google.api_core.exceptions import NotFound

from ingest.sources import download_drops, local_drops, split_gcs


class StandInStorageClient:
    """``client.bucket(name).blob(path).download_to_filename(file)`` over a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requested: list[str] = []

    def bucket(self, name: str) -> StandInStorageClient._Bucket:
        return self._Bucket(self, name)

    class _Bucket:
        def __init__(self, client: StandInStorageClient, name: str) -> None:
            self.client, self.name = client, name

        def blob(self, path: str) -> StandInStorageClient._Blob:
            return StandInStorageClient._Blob(self, path)

    class _Blob:
        def __init__(self, bucket: StandInStorageClient._Bucket, path: str) -> None:
            self.bucket, self.path = bucket, path

        def download_to_filename(self, filename: str) -> None:
            self.bucket.client.requested.append(f"gs://{self.bucket.name}/{self.path}")
            source = self.bucket.client.root / self.bucket.name / self.path
            if not source.is_file():
                raise NotFound(f"No such object: {self.bucket.name}/{self.path}")
            shutil.copyfile(source, filename)


def test_split_gcs() -> None:
    assert split_gcs("gs://landing/drops/daily/") == ("landing", "drops/daily")
    assert split_gcs("gs://landing") == ("landing", "")


def test_downloads_the_days_files_into_the_same_layout(tmp_path: Path) -> None:
    bucket = tmp_path / "gcs" / "landing" / "drops"
    (bucket / "viewing_logs").mkdir(parents=True)
    (bucket / "viewing_logs" / "2026-11-25.csv").write_text("view_id\nv1\n", encoding="utf-8")
    (bucket / "viewing_logs" / "2026-11-24.csv").write_text("not this day\n", encoding="utf-8")
    client = StandInStorageClient(tmp_path / "gcs")

    download = functools.partial(download_drops, client=client)
    with local_drops("gs://landing/drops", [date(2026, 11, 25)], download) as folder:
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.csv"))
        assert files == ["viewing_logs/2026-11-25.csv"]  # the missing table is skipped
        assert (folder / files[0]).read_text(encoding="utf-8") == "view_id\nv1\n"
    assert not folder.exists(), "the temporary copy is removed after the run"
    assert client.requested == [
        "gs://landing/drops/viewing_logs/2026-11-25.csv",
        "gs://landing/drops/social_interactions/2026-11-25.csv",
    ]


def test_a_local_folder_is_used_as_it_is(tmp_path: Path) -> None:
    with local_drops(tmp_path, [date(2026, 11, 25)]) as folder:
        assert folder == tmp_path
