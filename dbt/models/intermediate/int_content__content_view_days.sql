{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['content_id', 'activity_date'],
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['content_id']),
    )
}}

{%- set log = ref('int_content__view_versions') %}
{%- set unread = unread_versions(log, state=ref('int_content__views_current')) %}

with

views as (

    select
        content_id,
        activity_date,
        user_id,
        watch_duration_s,
        content_duration_s,
        batch_loaded_at
    from {{ ref('int_content__views_current') }}
    where not is_deleted and {{ in_days('activity_date', unread) }}

),

content_days as (

    select
        content_id,
        activity_date,
        count(*) as views,
        count(distinct user_id) as unique_viewers,
        cast(sum(watch_duration_s) as {{ int_type() }}) as total_watch_s,
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
        cast(
            sum(case when 10 * watch_duration_s >= 9 * content_duration_s then 1 else 0 end)
            as {{ int_type() }}
        ) as completed_views,
        -- a nightly run stamps what it rebuilt with how far it read; a full build, with
        -- the newest version counted
        coalesce(cast({{ unread.stamp }} as timestamp), max(batch_loaded_at)) as batch_loaded_at
    from views
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

    -- a (content, day) a view left with nothing: a row of zeros, which replaces it
    select
        departures.content_id,
        departures.activity_date,
        0 as views,
        0 as unique_viewers,
        0 as total_watch_s,
        cast(null as {{ exact_decimal_type() }}) as completion_nanos,
        0 as views_with_duration,
        0 as completed_views,
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
