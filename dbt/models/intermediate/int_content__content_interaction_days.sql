{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['content_id', 'activity_date'],
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['content_id']),
    )
}}

{%- set log = ref('int_content__interaction_versions') %}
{%- set unread = unread_versions(log, state=ref('int_content__interactions_current')) %}

with

interactions as (

    select
        content_id,
        activity_date,
        interaction_type,
        batch_loaded_at
    from {{ ref('int_content__interactions_current') }}
    where not is_deleted and {{ in_days('activity_date', unread) }}

),

content_days as (

    select
        content_id,
        activity_date,
        cast(
            sum(case when interaction_type = 'like' then 1 else 0 end) as {{ int_type() }}
        ) as likes,
        cast(
            sum(case when interaction_type = 'share' then 1 else 0 end) as {{ int_type() }}
        ) as shares,
        cast(
            sum(case when interaction_type = 'comment' then 1 else 0 end) as {{ int_type() }}
        ) as comments,
        -- a nightly run stamps what it rebuilt with how far it read; a full build, with
        -- the newest version counted
        coalesce(cast({{ unread.stamp }} as timestamp), max(batch_loaded_at)) as batch_loaded_at
    from interactions
    group by content_id, activity_date

),

{% if is_incremental() %}

departures as (

    -- the (content, day) each unread version replaced
    select distinct
        previous_content_id as content_id,
        previous_activity_date as activity_date
    from {{ log }}
    where {{ unread.filter }} and previous_activity_date is not null

),

emptied as (

    -- a (content, day) an interaction left with nothing: a row of zeros, which replaces it
    select
        departures.content_id,
        departures.activity_date,
        0 as likes,
        0 as shares,
        0 as comments,
        cast({{ unread.stamp }} as timestamp) as batch_loaded_at
    from departures
    left join content_days
        on
            departures.content_id = content_days.content_id
            and departures.activity_date = content_days.activity_date
    where content_days.content_id is null

),

{% endif %}

final as (

    select * from content_days
    {% if is_incremental() -%}
    union all
    select * from emptied
    {%- endif %}

)

select * from final
{{ storage_order('activity_date') }}
