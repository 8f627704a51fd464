{{
    config(
        materialized='incremental',
        incremental_strategy=replace_days_strategy(),
        unique_key='activity_date',
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['user_id']),
    )
}}

{%- set log = ref('int_content__view_versions') %}
{%- set unread = unread_versions(log, current=ref('int_content__views_current')) %}

with

views as (

    select
        user_id,
        activity_date,
        started_at,
        watch_duration_s,
        batch_loaded_at
    from {{ ref('int_content__views_current') }}
    where not is_deleted and {{ in_days('activity_date', unread) }}

),

user_days as (

    select
        user_id,
        activity_date,
        count(*) as views,
        cast(sum(watch_duration_s) as {{ int_type() }}) as total_watch_s,
        min(started_at) as first_seen_at,
        max(started_at) as last_seen_at,
        max(batch_loaded_at) as batch_loaded_at
    from views
    group by user_id, activity_date

),

{% if is_incremental() %}

departures as (

    -- the (user, day) each unread version replaced
    select distinct
        previous_user_id as user_id,
        previous_activity_date as activity_date
    from {{ log }}
    where {{ unread.filter }} and previous_activity_date is not null

),

emptied as (

    -- a (user, day) a view left with nothing: a row of zeros, so its day is rewritten
    select
        departures.user_id,
        departures.activity_date,
        0 as views,
        0 as total_watch_s,
        cast(null as timestamp) as first_seen_at,
        cast(null as timestamp) as last_seen_at,
        cast({{ unread.stamp }} as timestamp) as batch_loaded_at
    from departures
    left join user_days
        on
            departures.user_id = user_days.user_id
            and departures.activity_date = user_days.activity_date
    where user_days.user_id is null

),

{% endif %}

final as (

    select * from user_days
    {% if is_incremental() -%}
    union all
    select * from emptied
    {%- endif %}

)

select * from final
