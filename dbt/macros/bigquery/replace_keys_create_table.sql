{#-
    The full build of a replace_keys model (first run, --full-refresh, empty table).

    Everywhere but BigQuery this is dbt's create_table_as. On BigQuery, a model with an
    enforced contract would be `create or replace table t (<columns>) ... as (<model>)`;
    the local BigQuery API emulator cannot parse a column list in front of a query that
    is more than a plain select from a table. So BigQuery gets one script that both
    accept: the model into an expiring scratch table, then the contract's column list,
    partitioning and clustering in a `create or replace ... as select <columns> from
    <scratch>`, then the scratch table dropped. The replace stays one atomic statement,
    the contract is checked by the same dbt macros, and production runs exactly the SQL
    the emulator runs in CI.
-#}
{% macro replace_keys_create_table_sql(relation, sql) %}
    {{ return(adapter.dispatch('replace_keys_create_table_sql')(relation, sql)) }}
{% endmacro %}

{% macro default__replace_keys_create_table_sql(relation, sql) %}
    {{ return(get_create_table_as_sql(False, relation, sql)) }}
{% endmacro %}

{% macro bigquery__replace_keys_create_table_sql(relation, sql) %}
    {%- set scratch = make_temp_relation(relation) -%}
    {%- set partition_config = adapter.parse_partition_by(config.get('partition_by', none)) -%}
    {%- set contract = config.get('contract') -%}
    {%- set columns = [] -%}
    {%- if contract.enforced -%}
        {%- for name in model['columns'] -%}
            {%- do columns.append(adapter.quote(name)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set script -%}
create or replace table {{ scratch }}
options (expiration_timestamp = timestamp_add(current_timestamp(), interval 12 hour))
as (
{{ sql }}
);

create or replace table {{ relation }}
{%- if contract.enforced %}
    {{ get_assert_columns_equivalent(sql) }}
    {{ get_table_columns_and_constraints() }}
{%- endif %}
{{ partition_by(partition_config) }}
{{ cluster_by(config.get('cluster_by', none)) }}
{{ bigquery_table_options(config, model, False) }}
as select {{ columns | join(', ') if columns else '*' }} from {{ scratch }};

drop table if exists {{ scratch }}
    {%- endset -%}
    {{ return(script) }}
{% endmacro %}
