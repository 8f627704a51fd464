{#-
    dbt-bigquery builds a table with an enforced contract as `create or replace table t
    (<columns>) ... as (<model>)`; the local BigQuery API emulator cannot parse a column
    list in front of a query that is more than a plain select from a table. So such a
    table gets one script that both accept: the model into an expiring scratch table,
    then the contract's columns, partitioning and clustering in a `create or replace ... as
    select <columns> from <scratch>`, then the scratch table dropped. The replace stays
    one atomic statement, the contract is checked by dbt's own macros, and production runs
    exactly the SQL the emulator runs in CI. Every other table is dbt-bigquery's own.
-#}
{% macro bigquery__create_table_as(temporary, relation, compiled_code, language='sql') %}
    {%- if temporary or language != 'sql' or not config.get('contract').enforced -%}
        {{ return(dbt.bigquery__create_table_as(temporary, relation, compiled_code, language)) }}
    {%- endif -%}
    {%- set scratch = make_temp_relation(relation) -%}
    {%- set columns = [] -%}
    {%- for name in model['columns'] -%}
        {%- do columns.append(adapter.quote(name)) -%}
    {%- endfor -%}
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
as select {{ columns | join(', ') }} from {{ scratch }};

drop table if exists {{ scratch }}
{% endmacro %}
