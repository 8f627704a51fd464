{#- The body of the two version logs and the two current-state models, one per raw event
    table (see models/intermediate/_intermediate.yml for how they keep the marts exact).

    source_table: the raw table; key: its event id; event_time: its event timestamp;
    staging: the staging model (the full build reads it); columns: the winner's columns
    after the key, as staging names them (event_time and activity_date are derived from
    the raw timestamp, the others are copied). -#}

{% macro event_versions(source_table, key, event_time, staging, columns) %}
{%- set plan = replace_keys_plan() -%}
{%- set batch = versions_batch(source_table, plan) %}

with

changed_slice_ids as (

    -- ids delivered in a slice loaded (or re-delivered) since the last run
    select distinct {{ key }}
    from {{ source('raw', source_table) }}
    where {{ batch.slice_filter }}

),

{% if plan.incremental -%}

latest_versions as (

    select
        {{ key }},
        _file_date,
        is_deleted,
        row_number() over (
            partition by {{ key }} order by batch_loaded_at desc
        ) as version_rank
    from {{ this }}
    where {{ key }} in (
        select {{ key }} from {{ this }}
        where {{ batch.slice_filter }}
    )

),

displaced_ids as (

    -- ids whose winning copy came from a changed slice: it may have been replaced or removed
    select {{ key }}
    from latest_versions
    where
        version_rank = 1
        and not is_deleted
        and {{ batch.slice_filter }}

),

{% endif -%}

affected_ids as (

    select changed_slice_ids.{{ key }} from changed_slice_ids
    {% if plan.incremental -%}
    union distinct
    select displaced_ids.{{ key }} from displaced_ids
    {%- endif %}

),

{% if plan.incremental -%}

affected_copies as (

    -- the staging rules applied to the affected ids' copies only: filtering before the
    -- dedupe window keeps a nightly run proportional to its batch, not to the history
    select
        {{ key }},
        {%- for column in columns %}
        {% if column == event_time -%}
            {{ utc_timestamp(event_time) }} as {{ column }}
        {%- elif column == 'activity_date' -%}
            {{ utc_date(event_time) }} as {{ column }}
        {%- else -%}
            {{ column }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source('raw', source_table) }}
    where {{ key }} in (select affected_ids.{{ key }} from affected_ids)
    {{ latest_copy_per(key) }}

),

{% endif -%}

winners as (

    select
        {{ key }},
        {%- for column in columns %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ 'affected_copies' if plan.incremental else ref(staging) }}

),

versions as (

    select
        affected_ids.{{ key }},
        {%- for column in columns %}
        winners.{{ column }},
        {%- endfor %}
        winners.{{ key }} is null as is_deleted,
        {{ batch.stamp }} as batch_loaded_at
    from affected_ids
    left join winners on affected_ids.{{ key }} = winners.{{ key }}
    where {{ 'true' if batch.has_changes else 'false' }}

)

select * from versions
{% endmacro %}


{% macro event_current(versions_model, key, columns) %}
{%- set plan = replace_keys_plan() %}

with

new_versions as (

    select
        *,
        row_number() over (
            partition by {{ key }} order by batch_loaded_at desc
        ) as version_rank
    from {{ ref(versions_model) }}
    where {{ replace_keys_since(plan) }}

),

latest as (

    select
        {{ key }},
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        is_deleted,
        batch_loaded_at
    from new_versions
    where version_rank = 1

)

select * from latest
{% endmacro %}
