{#- A keyed merge into a partitioned table reads the target only on the partitions of the
    rows it writes: the key holds the partition column, so no match lies elsewhere. The
    partitions are read from the temp table first and inlined as literals, which BigQuery
    prunes (a subquery it would not). -#}
{% macro bq_generate_incremental_merge_build_sql(
    tmp_relation, target_relation, sql, unique_key, partition_by, dest_columns,
    tmp_relation_exists, incremental_predicates
) %}
    {%- set predicates = incremental_predicates or [] -%}
    {%- if unique_key and partition_by and tmp_relation_exists -%}
        {%- set days = run_query(
            'select distinct ' ~ partition_by.field ~ ' from ' ~ tmp_relation
        ).columns[0].values() -%}
        {%- set predicates = predicates + [in_literals('DBT_INTERNAL_DEST.' ~ partition_by.field, days)] -%}
    {%- endif -%}
    {{ return(dbt.bq_generate_incremental_merge_build_sql(
        tmp_relation, target_relation, sql, unique_key, partition_by, dest_columns,
        tmp_relation_exists, predicates
    )) }}
{% endmacro %}
