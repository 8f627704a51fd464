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
{%- set unread = unread_versions(log, state=ref('int_content__views_current')) %}

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

{% if is_incremental() %}

touched as (

    -- the (user, day) pairs the unread versions joined or left
    select
        user_id,
        activity_date
    from {{ log }}
    where {{ unread.filter }} and activity_date is not null
    union distinct
    select
        previous_user_id as user_id,
        previous_activity_date as activity_date
    from {{ log }}
    where {{ unread.filter }} and previous_activity_date is not null

),

user_days as (

    -- rebuilt and stamped with how far this run read; a pair left with no view is a row
    -- of zeros, so that its day is rewritten
    select
        touched.user_id,
        touched.activity_date,
        count(views.user_id) as views,
        cast(coalesce(sum(views.watch_duration_s), 0) as {{ int_type() }}) as total_watch_s,
        min(views.started_at) as first_seen_at,
        max(views.started_at) as last_seen_at,
        cast({{ unread.stamp }} as timestamp) as batch_loaded_at
    from touched
    left join views
        on
            touched.user_id = views.user_id
            and touched.activity_date = views.activity_date
    group by touched.user_id, touched.activity_date

),

kept as (

    -- the other users of the days being rewritten, as they are
    select existing.*
    from {{ this }} as existing
    left join touched
        on
            existing.user_id = touched.user_id
            and existing.activity_date = touched.activity_date
    where
        {{ in_days('existing.activity_date', unread) }}
        and existing.views > 0
        and touched.user_id is null

),

final as (

    select * from user_days
    union all
    select * from kept

)

{% else %}

final as (

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

)

{% endif %}

select * from final
