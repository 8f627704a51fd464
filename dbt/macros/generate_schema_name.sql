{#-
    The one place that names schemas (DuckDB) / datasets (BigQuery).

    A model's custom schema (`+schema:` in dbt_project.yml: staging, intermediate,
    marts) is used as it is, without the target schema as prefix, so the local
    warehouse and production use the same names: raw, staging, intermediate, marts (and
    analytics, which only the publish step writes).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ dataset_prefix() ~ ((custom_schema_name or target.schema) | trim) }}
{%- endmacro %}
