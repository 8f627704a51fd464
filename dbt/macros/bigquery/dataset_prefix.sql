{#-
    Prefix of every BigQuery dataset name: empty in production; set (through
    BIGQUERY_DATASET_PREFIX) to run in throwaway datasets, e.g. the live end-to-end test.
    Schemas of the local DuckDB warehouse are never prefixed.
-#}
{% macro dataset_prefix() %}{{ return(adapter.dispatch('dataset_prefix')()) }}{% endmacro %}
{% macro default__dataset_prefix() %}{{ return('') }}{% endmacro %}
{% macro bigquery__dataset_prefix() -%}
    {{ return(env_var('BIGQUERY_DATASET_PREFIX', '')) }}
{%- endmacro %}
