{#- Tests of event-level models check the batch (dbt's `where` config): what was loaded
    after the last publish. Placeholders in a `where` become literal filters, or `true`
    without a published watermark: __batch_slices__ (_file_date of the raw slices loaded
    after it), __batch_versions__ (the version-log rows written after it), __batch_days__
    (their activity dates, before and after each change: the only days a night writes). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if not where -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set filtered = namespace(where=where) -%}
    {%- for placeholder in ['__batch_slices__', '__batch_versions__', '__batch_days__']
        if placeholder in where -%}
        {%- set filtered.where = filtered.where.replace(
            placeholder, batch_filter(placeholder, published_watermark())) -%}
    {%- endfor -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ filtered.where ~ ') as dbt_subquery') }}
{%- endmacro %}

{% macro batch_filter(placeholder, since) %}
    {%- if since is none or not execute -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set after = timestamp_literal(since) -%}
    {%- if placeholder == '__batch_versions__' -%}
        {{ return('batch_loaded_at > ' ~ after) }}
    {%- endif -%}
    {%- set relations = {} -%}
    {%- for node in graph.sources.values() | list + graph.nodes.values() | list -%}
        {%- do relations.update({node.name: node.relation_name}) -%}
    {%- endfor -%}
    {%- if placeholder == '__batch_slices__' -%}
        {%- set query = 'select _file_date from ' ~ relations['load_audit'] ~ ' where '
            ~ utc_timestamp('_loaded_at') ~ ' > ' ~ after -%}
        {{ return(in_literals('_file_date', run_query(query).columns[0].values())) }}
    {%- endif -%}
    {%- set days = [] -%}
    {%- for log in ['int_content__view_versions', 'int_content__interaction_versions'] -%}
        {%- do days.extend(touched_days(relations[log], 'batch_loaded_at > ' ~ after)) -%}
    {%- endfor -%}
    {{ return(in_literals('activity_date', days)) }}
{% endmacro %}
