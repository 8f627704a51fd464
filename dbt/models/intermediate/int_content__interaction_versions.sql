{{ config(cluster_by=cluster_columns(['interaction_id'])) }}

{%- set plan = replace_keys_plan() -%}
{%- set batch = versions_batch('social_interactions', plan) %}

with

changed_slice_ids as (

    -- ids delivered in a slice loaded (or re-delivered) since the last run
    select distinct interaction_id
    from {{ source('raw', 'social_interactions') }}
    where {{ batch.slice_filter }}

),

{% if plan.incremental -%}

latest_versions as (

    select
        interaction_id,
        _file_date,
        is_deleted,
        row_number() over (
            partition by interaction_id order by batch_loaded_at desc
        ) as version_rank
    from {{ this }}
    where interaction_id in (
        select interaction_id from {{ this }}
        where {{ batch.slice_filter }}
    )

),

displaced_ids as (

    -- ids whose winning copy came from a changed slice: it may have been replaced or removed
    select interaction_id
    from latest_versions
    where
        version_rank = 1
        and not is_deleted
        and {{ batch.slice_filter }}

),

{% endif -%}

affected_ids as (

    select changed_slice_ids.interaction_id from changed_slice_ids
    {% if plan.incremental -%}
    union distinct
    select displaced_ids.interaction_id from displaced_ids
    {%- endif %}

),

{% if plan.incremental -%}

affected_copies as (

    -- the staging rules applied to the affected ids' copies only: filtering before the
    -- dedupe window keeps a nightly run proportional to its batch, not to the history
    select
        interaction_id,
        user_id,
        content_id,
        interaction_type,
        {{ utc_timestamp('created_at') }} as created_at,
        {{ utc_date('created_at') }} as activity_date,
        _file_date
    from {{ source('raw', 'social_interactions') }}
    where interaction_id in (select affected_ids.interaction_id from affected_ids)
    {{ latest_copy_per('interaction_id') }}

),

{% endif -%}

winners as (

    select
        interaction_id,
        user_id,
        content_id,
        interaction_type,
        created_at,
        activity_date,
        _file_date
    from {{ 'affected_copies' if plan.incremental else ref('stg_content__social_interactions') }}

),

versions as (

    select
        affected_ids.interaction_id,
        winners.user_id,
        winners.content_id,
        winners.interaction_type,
        winners.created_at,
        winners.activity_date,
        winners._file_date,
        winners.interaction_id is null as is_deleted,
        {{ batch.stamp }} as batch_loaded_at
    from affected_ids
    left join winners on affected_ids.interaction_id = winners.interaction_id
    where {{ 'true' if batch.has_changes else 'false' }}

)

select * from versions
