"""Write CSV files that follow the input contract messily, for the seeded random tests."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Free text as it arrives: quoted commas, quotes and line breaks, padding, blanks.
TEXT = ["drama", 'Sci-Fi, "Space"', "a\nb", "Talk\r\nShow", "  padded ", "é", 'x"y', "", " ", ","]


def write_messy_csv(
    rng: random.Random,
    path: Path,
    columns: list[str],
    records: Iterable[Mapping[str, str]],
) -> Path:
    """Write ``records`` under the header ``columns``, RFC 4180 quoted.

    The file has a BOM or not; quotes only where needed, around every field, or around
    every non-number; and LF, CRLF or both (chosen row by row) as line ends.
    About one row in twenty gets the wrong number of fields: a field short, a surplus
    field, or a surplus empty field.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        if rng.random() < 0.3:
            f.write("\ufeff")
        quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])
        lf = csv.writer(f, lineterminator="\n", quoting=quoting)
        crlf = csv.writer(f, lineterminator="\r\n", quoting=quoting)
        writers = rng.choice([[lf], [crlf], [lf, crlf]])
        rng.choice(writers).writerow(columns)
        for record in records:
            writer = rng.choice(writers)
            fields = [record[c] for c in columns]
            shape = rng.random()
            if shape < 0.02:
                fields = fields[:-1]
            elif shape < 0.04:
                fields = [*fields, "surplus"]
            elif shape < 0.05:
                fields = [*fields, ""]
            writer.writerow(fields)
    return path
