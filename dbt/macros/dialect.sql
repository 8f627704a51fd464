{#- Dialect differences, each in one small dispatch macro (duckdb__ / bigquery__): models
    call these and never branch on target.type. -#}

{#- UTC calendar date of a timestamp. DuckDB casts TIMESTAMPTZ to DATE in the session
    time zone, so convert to UTC wall-clock time first; BigQuery's DATE() is UTC. -#}
{% macro utc_date(column) %}{{ return(adapter.dispatch('utc_date')(column)) }}{% endmacro %}
{% macro duckdb__utc_date(column) %}cast(timezone('UTC', {{ column }}) as date){% endmacro %}
{% macro bigquery__utc_date(column) %}date({{ column }}, 'UTC'){% endmacro %}

{#- A timestamp as the warehouse's plain TIMESTAMP type holding UTC: DuckDB's
    TIMESTAMP (no time zone, UTC wall clock), BigQuery's TIMESTAMP (an instant). -#}
{% macro utc_timestamp(c) %}{{ return(adapter.dispatch('utc_timestamp')(c)) }}{% endmacro %}
{% macro duckdb__utc_timestamp(column) %}timezone('UTC', {{ column }}){% endmacro %}
{% macro bigquery__utc_timestamp(column) %}{{ column }}{% endmacro %}

{#- Data type names used in casts and in the mart contracts. dbt.type_bigint() renders
    `bigint` on BigQuery too (an alias there); the warehouse's own names leave no doubt. -#}
{% macro int_type() %}{{ return(adapter.dispatch('int_type')()) }}{% endmacro %}
{% macro default__int_type() %}{{ return('bigint') }}{% endmacro %}
{% macro bigquery__int_type() %}{{ return('int64') }}{% endmacro %}

{#- An exact decimal, for sums that must not depend on the order rows are added in (a float
    sum does); with its precision on BigQuery too (the emulator reads NUMERIC as (18, 3)). -#}
{% macro exact_decimal_type() %}{{ return(adapter.dispatch('exact_decimal_type')()) }}{% endmacro %}
{% macro default__exact_decimal_type() %}{{ return('decimal(38, 9)') }}{% endmacro %}
{% macro bigquery__exact_decimal_type() %}{{ return('numeric(38, 9)') }}{% endmacro %}
{% macro float_type() %}{{ return(adapter.dispatch('float_type')()) }}{% endmacro %}
{% macro default__float_type() %}{{ return('double') }}{% endmacro %}
{% macro bigquery__float_type() %}{{ return('float64') }}{% endmacro %}

{#- Quoted SQL literals for values read back with run_query (dates, timestamps,
    strings). BigQuery escapes with backslashes, DuckDB doubles the quote. -#}
{% macro date_literal(v) %}{{ return("date '" ~ v.strftime('%Y-%m-%d') ~ "'") }}{% endmacro %}
{% macro timestamp_literal(v) %}{{ return(adapter.dispatch('timestamp_literal')(v)) }}{% endmacro %}
{% macro default__timestamp_literal(value) -%}
    {{ return("timestamp '" ~ value.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "'") }}
{%- endmacro %}
{#- On BigQuery in UTC ISO 8601 form ('2026-11-26T15:31:01.160082Z'): the emulator mangles the
    fraction after a space separator inside some INSERT ... SELECT statements. -#}
{% macro bigquery__timestamp_literal(value) -%}
    {%- set value = value.astimezone(modules.pytz.utc) if value.tzinfo else value -%}
    {{ return("timestamp '" ~ value.strftime('%Y-%m-%dT%H:%M:%S.%f') ~ "Z'") }}
{%- endmacro %}
{% macro string_literal(v) %}{{ return(adapter.dispatch('string_literal')(v)) }}{% endmacro %}
{% macro default__string_literal(value) -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}
{% macro bigquery__string_literal(value) -%}
    {{ return("'" ~ (value | string).replace('\\', '\\\\').replace("'", "\\'") ~ "'") }}
{%- endmacro %}

{#- Physical layout. A BigQuery partition_by dict is read by dbt-duckdb >= 1.11 as
    DuckLake partitioning and fails at compile time, so it exists only on BigQuery. -#}
{% macro date_partition_by(column, data_type='date') -%}
    {{ return(adapter.dispatch('date_partition_by')(column, data_type)) }}
{%- endmacro %}
{% macro default__date_partition_by(column, data_type) %}{{ return(none) }}{% endmacro %}
{% macro bigquery__date_partition_by(column, data_type) -%}
    {{ return({'field': column, 'data_type': data_type, 'granularity': 'day'}) }}
{%- endmacro %}

{#- Stored row order. DuckDB prunes row groups by each column's min and max, so rows stored
    by day prune on a day filter as BigQuery's partitions do, and a night's writes (late
    events included) change only the last days' row groups, which a checkpoint rewrites. -#}
{% macro storage_order(column) %}{{ return(adapter.dispatch('storage_order')(column)) }}{% endmacro %}
{% macro default__storage_order(column) %}{{ return('order by ' ~ column) }}{% endmacro %}
{% macro bigquery__storage_order(column) %}{{ return('') }}{% endmacro %}

{#- Not named cluster_by: dbt-bigquery's create_table_as calls its own cluster_by macro
    to render the `cluster by` clause, and a project macro of that name replaces it. -#}
{% macro cluster_columns(c) %}{{ return(adapter.dispatch('cluster_columns')(c)) }}{% endmacro %}
{% macro default__cluster_columns(columns) %}{{ return(none) }}{% endmacro %}
{% macro bigquery__cluster_columns(columns) %}{{ return(columns) }}{% endmacro %}

{#- Writing a batch: appended, or by key (each key's row replaced). DuckDB deletes and
    appends, which leaves the older row groups' data for a checkpoint to keep as it is (a
    merge's updates rewrite them); BigQuery's merge does both (with no key it inserts). -#}
{% macro write_strategy(keyed=true) %}{{ return(adapter.dispatch('write_strategy')(keyed)) }}{% endmacro %}
{% macro default__write_strategy(keyed) %}{{ return('delete+insert' if keyed else 'append') }}{% endmacro %}
{% macro bigquery__write_strategy(keyed) %}{{ return('merge') }}{% endmacro %}
