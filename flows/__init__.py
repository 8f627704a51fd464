"""The nightly pipeline: ingest the daily CSV drops, ``dbt build``, summarise."""
