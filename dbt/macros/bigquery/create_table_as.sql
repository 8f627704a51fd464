{#- dbt-bigquery builds a contracted table as `create or replace table t (<columns>) as (...)`,
    which the local BigQuery API emulator cannot parse unless the query is a plain select.
    So: the model into an expiring scratch table, then the contract's columns, partitioning
    and clustering in `create or replace ... as select <columns> from <scratch>` (still one
    atomic replace, checked by dbt's own macros, the same SQL in CI and production). -#}
{% macro bigquery__create_table_as(temporary, relation, compiled_code, language='sql') %}
    {%- if temporary or language != 'sql' or not config.get('contract').enforced -%}
        {{ return(dbt.bigquery__create_table_as(temporary, relation, compiled_code, language)) }}
    {%- endif -%}
    {%- set scratch = make_temp_relation(relation) -%}
create or replace table {{ scratch }}
options (expiration_timestamp = timestamp_add(current_timestamp(), interval 12 hour))
as (
{{ compiled_code }}
);

create or replace table {{ relation }}
    {{ get_assert_columns_equivalent(compiled_code) }}
    {{ get_table_columns_and_constraints() }}
{{ partition_by(adapter.parse_partition_by(config.get('partition_by', none))) }}
{{ cluster_by(config.get('cluster_by', none)) }}
{{ bigquery_table_options(config, model, False) }}
as select `{{ model['columns'] | list | join('`, `') }}` from {{ scratch }};

drop table if exists {{ scratch }}
{% endmacro %}
