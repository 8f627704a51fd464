{{
    config(
        meta={
            'replace_keys': {
                'key': 'activity_date',
                'literals': true,
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
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['content_id']),
    )
}}

-- depends_on: {{ ref('int_content__view_versions') }}
-- depends_on: {{ ref('int_content__interaction_versions') }}

{%- set plan = replace_keys_plan() %}

with

views as (

    select
        content_id,
        activity_date,
        user_id,
        watch_duration_s,
        content_duration_s
    from {{ ref('int_content__views_current') }}
    where not is_deleted and {{ replace_keys_filter(plan) }}

),

interactions as (

    select
        content_id,
        activity_date,
        interaction_type
    from {{ ref('int_content__interactions_current') }}
    where not is_deleted and {{ replace_keys_filter(plan) }}

),

daily_views as (

    select
        content_id,
        activity_date,
        count(*) as views,
        count(distinct user_id) as unique_viewers,
        sum(watch_duration_s) as total_watch_s,
        -- summed exactly, divided once: the same bits whatever the order of the rows. Each
        -- ratio is kept in billionths with 9 decimals, i.e. to 18 decimal places.
        sum(
            case
                when content_duration_s is not null
                    then cast(
                            least(watch_duration_s / content_duration_s, 1.0) * 1e9
                            as {{ exact_decimal_type() }}
                        )
            end
        ) as completion_nanos,
        count(content_duration_s) as views_with_duration,
        sum(
            case
                when 10 * watch_duration_s >= 9 * content_duration_s then 1 else 0
            end
        ) as completed_views
    from views
    group by content_id, activity_date

),

daily_interactions as (

    select
        content_id,
        activity_date,
        sum(case when interaction_type = 'like' then 1 else 0 end) as likes,
        sum(case when interaction_type = 'share' then 1 else 0 end) as shares,
        sum(case when interaction_type = 'comment' then 1 else 0 end) as comments
    from interactions
    group by content_id, activity_date

),

content_days as (

    select
        content_id,
        activity_date
    from daily_views
    union distinct
    select
        content_id,
        activity_date
    from daily_interactions

),

final as (

    select
        content_days.content_id,
        content_days.activity_date,
        cast(coalesce(daily_views.views, 0) as {{ int_type() }}) as views,
        cast(coalesce(daily_views.unique_viewers, 0) as {{ int_type() }})
            as unique_viewers,
        cast(coalesce(daily_views.total_watch_s, 0) as {{ int_type() }})
            as total_watch_s,
        cast(daily_views.completion_nanos as {{ float_type() }}) / 1e9
        / nullif(daily_views.views_with_duration, 0) as avg_completion_rate,
        cast(coalesce(daily_views.views_with_duration, 0) as {{ int_type() }})
            as views_with_duration,
        cast(coalesce(daily_views.completion_nanos, 0) as {{ float_type() }}) / 1e9
            as completion_rate_sum,
        cast(coalesce(daily_views.completed_views, 0) as {{ int_type() }})
            as completed_views,
        cast(coalesce(daily_interactions.likes, 0) as {{ int_type() }}) as likes,
        cast(coalesce(daily_interactions.shares, 0) as {{ int_type() }}) as shares,
        cast(coalesce(daily_interactions.comments, 0) as {{ int_type() }}) as comments,
        cast(
            case
                when coalesce(daily_views.views, 0) > 0
                    then (
                        coalesce(daily_interactions.likes, 0)
                        + coalesce(daily_interactions.shares, 0)
                        + coalesce(daily_interactions.comments, 0)
                    ) / daily_views.views
            end as {{ float_type() }}
        ) as engagement_rate,
        cast(
            {{ replace_keys_stamp(plan, [
                ref('int_content__views_current'),
                ref('int_content__interactions_current'),
            ]) }} as timestamp
        ) as batch_loaded_at
    from content_days
    left join daily_views
        on
            content_days.content_id = daily_views.content_id
            and content_days.activity_date = daily_views.activity_date
    left join daily_interactions
        on
            content_days.content_id = daily_interactions.content_id
            and content_days.activity_date = daily_interactions.activity_date

)

select * from final
