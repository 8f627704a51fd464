{{
    config(
        materialized='table',
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['content_id']),
    )
}}

with

-- the compact state keeps a row of zeros where a correction took every event away

daily_views as (

    select *
    from {{ ref('int_content__content_view_days') }}
    where views > 0

),

daily_interactions as (

    select *
    from {{ ref('int_content__content_interaction_days') }}
    where likes > 0 or shares > 0 or comments > 0

),

content_days as (

    select
        daily_views.completion_nanos,
        coalesce(daily_views.content_id, daily_interactions.content_id) as content_id,
        coalesce(daily_views.activity_date, daily_interactions.activity_date) as activity_date,
        coalesce(daily_views.views, 0) as views,
        coalesce(daily_views.unique_viewers, 0) as unique_viewers,
        coalesce(daily_views.total_watch_s, 0) as total_watch_s,
        coalesce(daily_views.views_with_duration, 0) as views_with_duration,
        coalesce(daily_views.completed_views, 0) as completed_views,
        coalesce(daily_interactions.likes, 0) as likes,
        coalesce(daily_interactions.shares, 0) as shares,
        coalesce(daily_interactions.comments, 0) as comments,
        -- when the newest event version counted in the row was logged
        greatest(
            coalesce(daily_views.batch_loaded_at, daily_interactions.batch_loaded_at),
            coalesce(daily_interactions.batch_loaded_at, daily_views.batch_loaded_at)
        ) as batch_loaded_at
    from daily_views
    full outer join daily_interactions
        on
            daily_views.content_id = daily_interactions.content_id
            and daily_views.activity_date = daily_interactions.activity_date

),

final as (

    select
        content_id,
        activity_date,
        cast(views as {{ int_type() }}) as views,
        cast(unique_viewers as {{ int_type() }}) as unique_viewers,
        cast(total_watch_s as {{ int_type() }}) as total_watch_s,
        -- the exact sum divided once: the same bits whatever the order of the rows
        cast(completion_nanos as {{ float_type() }}) / 1e9
        / nullif(views_with_duration, 0) as avg_completion_rate,
        cast(views_with_duration as {{ int_type() }}) as views_with_duration,
        cast(coalesce(completion_nanos, 0) as {{ float_type() }}) / 1e9
            as completion_rate_sum,
        cast(completed_views as {{ int_type() }}) as completed_views,
        cast(likes as {{ int_type() }}) as likes,
        cast(shares as {{ int_type() }}) as shares,
        cast(comments as {{ int_type() }}) as comments,
        cast(
            case
                when views > 0 then (likes + shares + comments) / views
            end as {{ float_type() }}
        ) as engagement_rate,
        batch_loaded_at
    from content_days

)

select * from final
