"""The one switch and its settings: which target (warehouse and dbt target), where it lives,
and how to connect. ``ingest``, ``flows`` and ``dashboard`` read their configuration here and
nowhere else; this package imports none of them.

- :mod:`config.settings`: the typed :class:`~config.settings.Settings` read from the
  environment, the target table and every default, each written once;
- :mod:`config.bigquery`: how the BigQuery client and dbt's ``prod`` profile connect (the one
  place where the local emulator differs from production).
"""
