{{
    config(
        materialized='table',
        cluster_by=cluster_columns(['user_id']),
    )
}}

-- Rebuilt from the compact state, which keeps a row of zeros where a correction took
-- every event of a key away.

with

view_days as (

    select *
    from {{ ref('int_content__user_view_days') }}
    where views > 0

),

interaction_days as (

    select *
    from {{ ref('int_content__user_interaction_days') }}
    where likes > 0 or shares > 0 or comments > 0

),

user_days as (

    select
        coalesce(view_days.user_id, interaction_days.user_id) as user_id,
        coalesce(view_days.views, 0) as views,
        coalesce(view_days.total_watch_s, 0) as total_watch_s,
        coalesce(interaction_days.likes, 0) as likes,
        coalesce(interaction_days.shares, 0) as shares,
        coalesce(interaction_days.comments, 0) as comments,
        least(
            coalesce(view_days.first_seen_at, interaction_days.first_seen_at),
            coalesce(interaction_days.first_seen_at, view_days.first_seen_at)
        ) as first_seen_at,
        greatest(
            coalesce(view_days.last_seen_at, interaction_days.last_seen_at),
            coalesce(interaction_days.last_seen_at, view_days.last_seen_at)
        ) as last_seen_at,
        greatest(
            coalesce(view_days.batch_loaded_at, interaction_days.batch_loaded_at),
            coalesce(interaction_days.batch_loaded_at, view_days.batch_loaded_at)
        ) as batch_loaded_at
    from view_days
    full outer join interaction_days
        on
            view_days.user_id = interaction_days.user_id
            and view_days.activity_date = interaction_days.activity_date

),

user_totals as (

    select
        user_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as active_days,
        sum(views) as total_views,
        sum(total_watch_s) as total_watch_s,
        sum(likes) as likes,
        sum(shares) as shares,
        sum(comments) as comments,
        max(batch_loaded_at) as batch_loaded_at
    from user_days
    group by user_id

),

user_contents as (

    select
        user_id,
        count(*) as distinct_contents,
        max(batch_loaded_at) as batch_loaded_at
    from {{ ref('int_content__user_contents') }}
    where views > 0
    group by user_id

),

device_views as (

    select
        user_id,
        device,
        views as views_on_device,
        batch_loaded_at
    from {{ ref('int_content__user_devices') }}
    where views > 0

),

primary_devices as (

    -- most views wins; a tie goes to the alphabetically first device. No column may share
    -- a CTE's name: in GoogleSQL the name of a table in FROM shadows a column of that name
    select
        user_id,
        device as primary_device,
        max(batch_loaded_at) over (partition by user_id) as batch_loaded_at
    from device_views
    qualify row_number() over (
            partition by user_id
            order by views_on_device desc, device asc
        ) = 1

),

final as (

    select
        user_totals.user_id,
        cast(user_totals.first_seen_at as timestamp) as first_seen_at,
        cast(user_totals.last_seen_at as timestamp) as last_seen_at,
        cast(user_totals.active_days as {{ int_type() }}) as active_days,
        cast(user_totals.total_views as {{ int_type() }}) as total_views,
        cast(user_totals.total_watch_s as {{ int_type() }}) as total_watch_s,
        cast(coalesce(user_contents.distinct_contents, 0) as {{ int_type() }})
            as distinct_contents,
        cast(user_totals.likes as {{ int_type() }}) as likes,
        cast(user_totals.shares as {{ int_type() }}) as shares,
        cast(user_totals.comments as {{ int_type() }}) as comments,
        primary_devices.primary_device,
        case
            when user_totals.total_watch_s >= 36000 then 'heavy'
            when user_totals.total_watch_s >= 3600 then 'regular'
            when user_totals.total_views > 0 then 'light'
            else 'social_only'
        end as engagement_segment,
        -- when the newest event version counted in the row was logged
        cast(
            greatest(
                user_totals.batch_loaded_at,
                coalesce(user_contents.batch_loaded_at, user_totals.batch_loaded_at),
                coalesce(primary_devices.batch_loaded_at, user_totals.batch_loaded_at)
            ) as timestamp
        ) as batch_loaded_at
    from user_totals
    left join user_contents on user_totals.user_id = user_contents.user_id
    left join primary_devices on user_totals.user_id = primary_devices.user_id

)

select * from final
