{{
    config(
        materialized='incremental',
        incremental_strategy=replace_days_strategy(),
        unique_key='activity_date',
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['user_id']),
    )
}}

{%- set log = ref('int_content__interaction_versions') %}
{%- set unread = unread_versions(log, state=ref('int_content__interactions_current')) %}

with

interactions as (

    select
        user_id,
        activity_date,
        created_at,
        interaction_type,
        batch_loaded_at
    from {{ ref('int_content__interactions_current') }}
    where not is_deleted and {{ in_days('activity_date', unread) }}

),

touched as (

    -- the (user, day) pairs to rebuild: on a full build every pair, nightly the pairs
    -- the unread versions joined or left
    {% if is_incremental() %}
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
    {% else %}
        select distinct
            user_id,
            activity_date
        from interactions
    {% endif %}

),

user_days as (

    -- rebuilt and stamped with how far this run read (a full build: with the newest
    -- version counted); a pair left with nothing is a row of zeros, so that its day is
    -- rewritten
    select
        touched.user_id,
        touched.activity_date,
        cast(
            sum(case when interactions.interaction_type = 'like' then 1 else 0 end)
            as {{ int_type() }}
        ) as likes,
        cast(
            sum(case when interactions.interaction_type = 'share' then 1 else 0 end)
            as {{ int_type() }}
        ) as shares,
        cast(
            sum(case when interactions.interaction_type = 'comment' then 1 else 0 end)
            as {{ int_type() }}
        ) as comments,
        min(interactions.created_at) as first_seen_at,
        max(interactions.created_at) as last_seen_at,
        coalesce(cast({{ unread.stamp }} as timestamp), max(interactions.batch_loaded_at))
            as batch_loaded_at
    from touched
    left join interactions
        on
            touched.user_id = interactions.user_id
            and touched.activity_date = interactions.activity_date
    group by touched.user_id, touched.activity_date

),

{% if is_incremental() %}

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
        and existing.likes + existing.shares + existing.comments > 0
        and touched.user_id is null

),

{% endif %}

final as (

    select * from user_days
    {% if is_incremental() -%}
    union all
    select * from kept
    {%- endif %}

)

select * from final
