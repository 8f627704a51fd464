{#-
    The one place that names schemas (DuckDB) / datasets (BigQuery). A model's custom
    schema (`+schema:` in dbt_project.yml) is used as it is, without the target schema as
    prefix, so both warehouses use the same names: raw, staging, intermediate, marts (and
    analytics, which only the publish step writes).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ dataset_prefix() ~ ((custom_schema_name or target.schema) | trim) }}
{%- endmacro %}

{#- Prefix of every BigQuery dataset: empty in production, BIGQUERY_DATASET_PREFIX to run in
    throwaway datasets (the live end-to-end test). Local schemas are never prefixed. -#}
{% macro dataset_prefix() %}{{ return(adapter.dispatch('dataset_prefix')()) }}{% endmacro %}
{% macro default__dataset_prefix() %}{{ return('') }}{% endmacro %}
{% macro bigquery__dataset_prefix() -%}
    {{ return(env_var('BIGQUERY_DATASET_PREFIX', '')) }}
{%- endmacro %}
