"""A local dashboard on the marts: one self-contained HTML file, no Power BI and no GCP.

``build_dashboard(settings)`` reads ``mart_content_performance`` and ``mart_users`` of the
selected target (DuckDB for dev/ci, BigQuery for prod) and writes the "Content performance"
and "Audience" pages to a single static HTML file that works offline.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from config.settings import Settings
from dashboard.readers import DashboardError, MissingMartsError, open_reader

__all__ = ["DEFAULT_OUT", "DashboardError", "MissingMartsError", "build_dashboard"]

log = logging.getLogger(__name__)

#: Default output, relative to the working directory (``reports/`` is git-ignored).
DEFAULT_OUT = Path("reports") / "dashboard.html"


def build_dashboard(
    settings: Settings, out_path: Path | None = None, *, top_n: int = 10, min_views: int = 1
) -> Path:
    """Render the dashboard for ``settings.target`` to ``out_path`` and return its absolute path.

    ``top_n`` contents are ranked by engagement rate among those with at least ``min_views``
    views. Raises :class:`MissingMartsError` when the marts have not been built yet.
    """
    from dashboard.metrics import collect
    from dashboard.render import render_html

    out = (out_path or DEFAULT_OUT).expanduser()
    out = out if out.is_absolute() else (Path.cwd() / out)
    reader = open_reader(settings)
    try:
        data = collect(reader, top_n=top_n, min_views=min_views)
    finally:
        reader.close()
    page = render_html(data, target=settings.target)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    log.info("dashboard written to %s (%d bytes)", out, len(page.encode()))
    return out
