{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['user_id', 'activity_date'],
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
    -- version counted); a pair left with nothing is a row of zeros, which the merge writes
    -- over it
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

)

select * from user_days
{{ storage_order('activity_date') }}
