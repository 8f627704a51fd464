{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(keyed=false),
        partition_by=date_partition_by('batch_loaded_at', 'timestamp'),
        cluster_by=cluster_columns(['view_id']),
    )
}}

{%- set batch = changed_slices('viewing_logs') %}
{%- set copies = ref('stg_content__viewing_logs') %}
{#- Where the latest versions of the batch's ids sit. Per id the copy from the most recent
    file date wins however late a copy comes, so the ids are looked up in the whole log:
    one narrow read (id, file date, batch), which gives the batch days holding the versions
    of the ids with a copy in the batch or logged from a changed slice. The versions are
    then read from those days only. -#}
{%- set lookup = run_query(
    'select distinct cast(batch_loaded_at as date), (' ~ batch.filter ~ ') from ' ~ this
    ~ ' where view_id in (select view_id from ' ~ copies ~ ' where ' ~ batch.filter ~ ') or '
    ~ batch.filter
).rows if is_incremental() else [] %}
{%- set version_days = in_literals('cast(batch_loaded_at as date)', lookup | map(attribute=0)) %}
{#- Only a re-delivery can take an id's winning copy away; only then look elsewhere. -#}
{%- set redelivered = lookup | selectattr(1) | list | length > 0 %}

with

batch_copies as (

    -- every copy in a slice loaded or re-delivered since the last run
    select
        view_id,
        user_id,
        content_id,
        started_at,
        activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        _file_date,
        _source_row
    from {{ copies }}
    where {{ batch.filter }}

),

{% if is_incremental() %}

previous as (

    -- the latest logged version of each id with a copy in the batch, or whose logged
    -- copy came from a changed slice: where its old contribution sits
    select *
    from {{ this }}
    where
        {{ version_days }}
        and view_id in (
            select batch_copies.view_id from batch_copies
            {% if redelivered -%}
            union distinct
            select view_id from {{ this }} where {{ version_days }} and {{ batch.filter }}
            {%- endif %}
        )
    qualify row_number() over (partition by view_id order by batch_loaded_at desc) = 1

),

displaced as (

    -- ids whose winning copy was in a changed slice: it may have been replaced or removed
    select view_id
    from previous
    where not is_deleted and {{ batch.filter }}

),

{% endif %}

affected as (

    select distinct batch_copies.view_id from batch_copies
    {% if is_incremental() -%}
    union distinct
    select displaced.view_id from displaced
    {%- endif %}

),

candidates as (

    select * from batch_copies
    {% if is_incremental() -%}
    union all
    -- the best copy outside the changed slices is the one logged before
    select
        view_id,
        user_id,
        content_id,
        started_at,
        activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        _file_date,
        null as _source_row
    from previous
    where not is_deleted and not ({{ batch.filter }})
    {% if redelivered -%}
    union all
    select
        view_id,
        user_id,
        content_id,
        started_at,
        activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        _file_date,
        _source_row
    from {{ copies }}
    where
        view_id in (select displaced.view_id from displaced)
        and not ({{ batch.filter }})
    {%- endif %}
    {%- endif %}

),

winners as (

    -- the copy from the most recent file date wins; within one file, the last row
    select *
    from candidates
    {{ latest_copy_per('view_id') }}

),

versions as (

    select
        affected.view_id,
        winners.user_id,
        winners.content_id,
        winners.started_at,
        winners.activity_date,
        winners.watch_duration_s,
        winners.content_duration_s,
        winners.device,
        winners._file_date,
        winners.view_id is null as is_deleted,
        {%- if is_incremental() %}
            previous.user_id as previous_user_id,
            previous.content_id as previous_content_id,
            previous.activity_date as previous_activity_date,
            previous.device as previous_device,
        {%- else %}
            cast(null as {{ dbt.type_string() }}) as previous_user_id,
            cast(null as {{ dbt.type_string() }}) as previous_content_id,
            cast(null as date) as previous_activity_date,
            cast(null as {{ dbt.type_string() }}) as previous_device,
        {%- endif %}
        cast({{ batch.stamp }} as timestamp) as batch_loaded_at
    from affected
    left join winners on affected.view_id = winners.view_id
    {% if is_incremental() -%}
    left join previous on affected.view_id = previous.view_id
    {%- endif %}

)

select * from versions
