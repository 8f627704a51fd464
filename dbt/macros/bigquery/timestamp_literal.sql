{#-
    A UTC timestamp literal in ISO 8601 form ('2026-11-26T15:31:01.160082Z'): valid
    GoogleSQL, and the one form the local BigQuery API emulator reads back correctly in
    every position (with a space separator it mangles the fraction inside some INSERT ...
    SELECT statements). Same instant, same SQL on BigQuery and on the emulator.
-#}
{% macro bigquery__timestamp_literal(value) -%}
    {%- if value.tzinfo is not none -%}
        {%- set value = value.astimezone(modules.pytz.utc) -%}
    {%- endif -%}
    {{ return("timestamp '" ~ value.strftime('%Y-%m-%dT%H:%M:%S.%f') ~ "Z'") }}
{%- endmacro %}
