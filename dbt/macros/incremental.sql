{#- An incremental model reads what is newer than its watermark (the largest batch_loaded_at
    it holds), inlined as literals so that BigQuery prunes; a failed run or piled-up batches
    are caught up by the next run. is_incremental() holds only when building a model:
    compile, docs, sqlfluff and unit tests render the full build and never read the
    warehouse, so `dbt compile --target prod` needs no credentials. -#}
{% macro is_incremental() %}
    {{ return(flags.WHICH in ('run', 'build', 'retry') and model.resource_type == 'model'
              and dbt.is_incremental()) }}
{% endmacro %}

{#- The largest batch_loaded_at of a relation (none when it is empty). -#}
{% macro watermark(relation) %}
    {{ return(run_query('select max(batch_loaded_at) from ' ~ relation).columns[0].values()[0]) }}
{% endmacro %}

{#- The last publish's watermark (--vars '{published_watermark: <ISO timestamp>}', from the
    flow): only a green build is published, so every model has read up to it, and reads
    its own watermark from there on (without it, from its whole table). -#}
{% macro published_watermark() %}
    {%- set value = var('published_watermark', none) -%}
    {{ return(modules.datetime.datetime.fromisoformat(value) if value else none) }}
{% endmacro %}

{#- `column in (<literals>)`, or false when there are none. -#}
{% macro in_literals(column, values) %}
    {%- set literals = [] -%}
    {%- for value in values | reject('none') | unique | sort -%}
        {%- do literals.append(string_literal(value) if value is string else date_literal(value)) -%}
    {%- endfor -%}
    {{ return(column ~ ' in (' ~ literals | join(', ') ~ ')' if literals else 'false') }}
{% endmacro %}

{#- The raw slices loaded since a version log's watermark, from raw.load_audit: `filter` on
    _file_date, and `stamp`, the newest _loaded_at (any table), the new watermark. -#}
{% macro changed_slices(table_name) %}
    {%- set audit = source('raw', 'load_audit') -%}
    {%- set loaded_at = utc_timestamp('_loaded_at') -%}
    {%- if not is_incremental() -%}
        {{ return({'filter': 'true', 'stamp': '(select max(' ~ loaded_at ~ ') from ' ~ audit ~ ')'}) }}
    {%- endif -%}
    {%- set published = published_watermark() -%}
    {%- set since = run_query('select max(batch_loaded_at) from ' ~ this ~ (
        ' where batch_loaded_at >= ' ~ timestamp_literal(published) if published else '')
    ).columns[0].values()[0] or published -%}
    {%- set rows = run_query(
        'select table_name, _file_date, ' ~ loaded_at ~ ' from ' ~ audit
        ~ (' where ' ~ loaded_at ~ ' > ' ~ timestamp_literal(since) if since is not none else '')
    ).rows -%}
    {%- set dates = rows | selectattr(0, 'equalto', table_name) | map(attribute=1) | list -%}
    {{ return({
        'filter': in_literals('_file_date', dates),
        'stamp': timestamp_literal(rows | map(attribute=2) | max) if rows else 'cast(null as timestamp)',
    }) }}
{% endmacro %}

{#- How far a current-state model has read its log. After a publish at P its newest row is
    on a day the log rows since P touch: only those partitions are read; P is the floor. -#}
{% macro current_watermark(current, log) %}
    {%- set published = published_watermark() -%}
    {%- if published is none -%}
        {{ return(watermark(current)) }}
    {%- endif -%}
    {%- set days = touched_days(log, 'batch_loaded_at >= ' ~ timestamp_literal(published)) -%}
    {%- set newest = run_query('select max(batch_loaded_at) from ' ~ current ~ ' where '
        ~ in_literals('activity_date', days)).columns[0].values()[0] -%}
    {{ return([newest, published] | reject('none') | max) }}
{% endmacro %}

{#- The activity dates that the log rows matching `filter` touch, before and after. -#}
{% macro touched_days(log, filter) %}
    {%- set days = run_query(
        'select activity_date from ' ~ log ~ ' where ' ~ filter
        ~ ' union distinct select previous_activity_date from ' ~ log ~ ' where ' ~ filter
    ).columns[0].values() -%}
    {{ return(days | reject('none') | list) }}
{% endmacro %}

{#- The version-log rows a model has not read: for the current-state model `state` itself,
    since how far it has read; for a model built from it, since its own watermark and never
    past `state` (which lags when it failed), so it reads one consistent state. Returns the
    `filter`, the `log` and the new `stamp`. -#}
{% macro unread_versions(log, state) %}
    {%- if not is_incremental() -%}
        {{ return({'filter': 'true', 'log': log, 'stamp': 'null'}) }}
    {%- endif -%}
    {%- set own = (state | string) == (this | string) -%}
    {%- set upto = current_watermark(state, log) -%}
    {%- set since = upto if own else watermark(this) -%}
    {%- if not own and upto is none -%}
        {{ return({'filter': 'false', 'log': log, 'stamp': 'null'}) }}
    {%- endif -%}
    {%- set bounds = [] if since is none else ['batch_loaded_at > ' ~ timestamp_literal(since)] -%}
    {%- set bounds = bounds + ([] if own else ['batch_loaded_at <= ' ~ timestamp_literal(upto)]) -%}
    {%- set filter = bounds | join(' and ') or 'true' -%}
    {{ return({'filter': filter, 'log': log,
               'stamp': timestamp_literal(upto) if upto is not none else 'null'}) }}
{% endmacro %}

{#- `column` restricted to the activity days the unread versions touch (true when they
    are the whole log, as on a full build), read only by the models that need them. -#}
{% macro in_days(column, unread) %}
    {%- set whole = unread.filter == 'true' -%}
    {{ return('true' if whole else in_literals(column, touched_days(unread.log, unread.filter))) }}
{% endmacro %}
