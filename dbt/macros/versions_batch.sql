{#-
    The batch a version log appends: which (table, file date) slices changed since the
    log's watermark, read from raw.load_audit in ONE query so the slice list and the
    stamp come from the same snapshot. Returns
      slice_filter: predicate on _file_date selecting the changed slices of `table_name`;
      stamp: SQL for batch_loaded_at, the newest audit _loaded_at seen (any table);
      has_changes: whether anything must be appended.
    Full builds read every slice and stamp with the newest audit _loaded_at.
-#}
{% macro versions_batch(table_name, plan) %}
    {%- set audit = source('raw', 'load_audit') -%}
    {%- if not plan.incremental -%}
        {{ return({
            'slice_filter': 'true',
            'stamp': '(select max(' ~ utc_timestamp('_loaded_at') ~ ') from ' ~ audit ~ ')',
            'has_changes': true,
        }) }}
    {%- endif -%}
    {%- if replace_keys_placeholder() -%}
        {%- set rows = [(table_name, modules.datetime.date(1970, 1, 1), modules.datetime.datetime(1970, 1, 2))] -%}
    {%- else -%}
        {%- set query -%}
            select table_name, _file_date, {{ utc_timestamp('_loaded_at') }} as loaded_at
            from {{ audit }}
            {% if plan.watermark is not none -%}
            where {{ utc_timestamp('_loaded_at') }} > {{ timestamp_literal(plan.watermark) }}
            {%- endif %}
        {%- endset -%}
        {%- set rows = run_query(query).rows -%}
    {%- endif -%}
    {%- set dates = [] -%}
    {%- set stamps = [] -%}
    {%- for row in rows -%}
        {%- do stamps.append(row[2]) -%}
        {%- if row[0] == table_name -%}
            {%- do dates.append(date_literal(row[1])) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not dates -%}
        {{ return({'slice_filter': 'false', 'stamp': 'cast(null as timestamp)', 'has_changes': false}) }}
    {%- endif -%}
    {{ return({
        'slice_filter': '_file_date in (' ~ dates | unique | sort | join(', ') ~ ')',
        'stamp': timestamp_literal(stamps | max),
        'has_changes': true,
    }) }}
{% endmacro %}
