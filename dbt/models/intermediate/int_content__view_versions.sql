{{ config(cluster_by=cluster_columns(['view_id'])) }}

{%- set plan = replace_keys_plan() -%}
{%- set batch = versions_batch('viewing_logs', plan) %}

with

changed_slice_ids as (

    -- ids delivered in a slice loaded (or re-delivered) since the last run
    select distinct view_id
    from {{ source('raw', 'viewing_logs') }}
    where {{ batch.slice_filter }}

),

{% if plan.incremental -%}

latest_versions as (

    select
        view_id,
        _file_date,
        is_deleted,
        row_number() over (
            partition by view_id order by batch_loaded_at desc
        ) as version_rank
    from {{ this }}
    where view_id in (
        select view_id from {{ this }}
        where {{ batch.slice_filter }}
    )

),

displaced_ids as (

    -- ids whose winning copy came from a changed slice: it may have been replaced or removed
    select view_id
    from latest_versions
    where
        version_rank = 1
        and not is_deleted
        and {{ batch.slice_filter }}

),

{% endif -%}

affected_ids as (

    select changed_slice_ids.view_id from changed_slice_ids
    {% if plan.incremental -%}
    union distinct
    select displaced_ids.view_id from displaced_ids
    {%- endif %}

),

{% if plan.incremental -%}

affected_copies as (

    -- the staging rules applied to the affected ids' copies only: filtering before the
    -- dedupe window keeps a nightly run proportional to its batch, not to the history
    select
        view_id,
        user_id,
        content_id,
        {{ utc_timestamp('started_at') }} as started_at,
        {{ utc_date('started_at') }} as activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        _file_date
    from {{ source('raw', 'viewing_logs') }}
    where view_id in (select affected_ids.view_id from affected_ids)
    {{ latest_copy_per('view_id') }}

),

{% endif -%}

winners as (

    select
        view_id,
        user_id,
        content_id,
        started_at,
        activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        _file_date
    from {{ 'affected_copies' if plan.incremental else ref('stg_content__viewing_logs') }}

),

versions as (

    select
        affected_ids.view_id,
        winners.user_id,
        winners.content_id,
        winners.started_at,
        winners.activity_date,
        winners.watch_duration_s,
        winners.content_duration_s,
        winners.device,
        winners._file_date,
        winners.view_id is null as is_deleted,
        {{ batch.stamp }} as batch_loaded_at
    from affected_ids
    left join winners on affected_ids.view_id = winners.view_id
    where {{ 'true' if batch.has_changes else 'false' }}

)

select * from versions
