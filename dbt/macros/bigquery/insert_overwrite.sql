{#- insert_overwrite with the days read from the temp table's rows first (dbt-bigquery's
    dynamic form uses a script the emulator cannot run): its static form, with the days as
    literals, which both run and BigQuery prunes alike. The temp table exists already:
    with on_schema_change set, dbt-bigquery builds it first. -#}
{% macro bq_insert_overwrite_sql(
    tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns,
    tmp_relation_exists, copy_partitions
) %}
    {%- if partitions is none and tmp_relation_exists -%}
        {%- set days = run_query(
            'select distinct ' ~ partition_by.field ~ ' from ' ~ tmp_relation
        ).columns[0].values() -%}
        {%- if not days -%}
            {{ return('drop table if exists ' ~ tmp_relation) }}
        {%- endif -%}
        {%- set partitions = [] -%}
        {%- for day in days | sort -%}
            {%- do partitions.append(date_literal(day)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(dbt.bq_insert_overwrite_sql(
        tmp_relation, target_relation, sql, unique_key, partition_by, partitions, dest_columns,
        tmp_relation_exists, copy_partitions
    )) }}
{% endmacro %}
