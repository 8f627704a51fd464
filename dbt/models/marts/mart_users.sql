{{
    config(
        meta={
            'replace_keys': {
                'key': 'user_id',
                'from': [
                    {
                        'log': 'int_content__view_versions',
                        'current': 'int_content__views_current',
                        'id': 'view_id',
                    },
                    {
                        'log': 'int_content__interaction_versions',
                        'current': 'int_content__interactions_current',
                        'id': 'interaction_id',
                    },
                ],
            },
        },
        cluster_by=cluster_columns(['user_id']),
    )
}}

-- depends_on: {{ ref('int_content__view_versions') }}
-- depends_on: {{ ref('int_content__interaction_versions') }}

{%- set plan = replace_keys_plan() %}

with

views as (

    select
        user_id,
        content_id,
        started_at,
        activity_date,
        watch_duration_s,
        device
    from {{ ref('int_content__views_current') }}
    where not is_deleted and {{ replace_keys_filter(plan) }}

),

interactions as (

    select
        user_id,
        created_at,
        activity_date,
        interaction_type
    from {{ ref('int_content__interactions_current') }}
    where not is_deleted and {{ replace_keys_filter(plan) }}

),

activity as (

    select
        user_id,
        started_at as occurred_at,
        activity_date
    from views
    union all
    select
        user_id,
        created_at as occurred_at,
        activity_date
    from interactions

),

user_activity as (

    select
        user_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(distinct activity_date) as active_days
    from activity
    group by user_id

),

user_views as (

    select
        user_id,
        count(*) as total_views,
        sum(watch_duration_s) as total_watch_s,
        count(distinct content_id) as distinct_contents
    from views
    group by user_id

),

user_interactions as (

    select
        user_id,
        sum(case when interaction_type = 'like' then 1 else 0 end) as likes,
        sum(case when interaction_type = 'share' then 1 else 0 end) as shares,
        sum(case when interaction_type = 'comment' then 1 else 0 end) as comments
    from interactions
    group by user_id

),

device_views as (

    select
        user_id,
        device,
        count(*) as views_on_device
    from views
    where device is not null
    group by user_id, device

),

primary_devices as (

    -- most views wins; a tie goes to the alphabetically first device. No column may share
    -- a CTE's name: in GoogleSQL the name of a table in FROM shadows a column of that name
    select
        user_id,
        device as primary_device
    from device_views
    qualify row_number() over (
            partition by user_id
            order by views_on_device desc, device asc
        ) = 1

),

final as (

    select
        user_activity.user_id,
        cast(user_activity.first_seen_at as timestamp) as first_seen_at,
        cast(user_activity.last_seen_at as timestamp) as last_seen_at,
        cast(user_activity.active_days as {{ int_type() }}) as active_days,
        cast(coalesce(user_views.total_views, 0) as {{ int_type() }}) as total_views,
        cast(coalesce(user_views.total_watch_s, 0) as {{ int_type() }})
            as total_watch_s,
        cast(coalesce(user_views.distinct_contents, 0) as {{ int_type() }})
            as distinct_contents,
        cast(coalesce(user_interactions.likes, 0) as {{ int_type() }}) as likes,
        cast(coalesce(user_interactions.shares, 0) as {{ int_type() }}) as shares,
        cast(coalesce(user_interactions.comments, 0) as {{ int_type() }}) as comments,
        primary_devices.primary_device,
        case
            when coalesce(user_views.total_watch_s, 0) >= 36000 then 'heavy'
            when coalesce(user_views.total_watch_s, 0) >= 3600 then 'regular'
            when coalesce(user_views.total_views, 0) > 0 then 'light'
            else 'social_only'
        end as engagement_segment,
        cast(
            {{ replace_keys_stamp(plan, [
                ref('int_content__views_current'),
                ref('int_content__interactions_current'),
            ]) }} as timestamp
        ) as batch_loaded_at
    from user_activity
    left join user_views on user_activity.user_id = user_views.user_id
    left join user_interactions on user_activity.user_id = user_interactions.user_id
    left join primary_devices on user_activity.user_id = primary_devices.user_id

)

select * from final
