"""``python -m ingest``: the same command as ``nightjar ingest`` (flows/cli.py).

python -m ingest --date 2026-11-16 --source-dir sample_data
python -m ingest --file sample_data/viewing_logs/2026-11-16.csv --table viewing_logs
"""

import sys

from flows.cli import ingest_main

sys.exit(ingest_main())
