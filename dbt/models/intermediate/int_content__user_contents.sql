{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['user_id', 'content_id'],
        cluster_by=cluster_columns(['user_id']),
    )
}}

{%- set unread = unread_versions(
    ref('int_content__view_versions'), state=ref('int_content__views_current')
) %}

with

changes as (

    -- each logged version adds its view and takes back the version it replaces, so the
    -- sum over any run of the log is what those versions changed
    select
        user_id,
        content_id,
        1 as views,
        batch_loaded_at
    from {{ ref('int_content__view_versions') }}
    where {{ unread.filter }} and not is_deleted
    union all
    select
        previous_user_id as user_id,
        previous_content_id as content_id,
        -1 as views,
        batch_loaded_at
    from {{ ref('int_content__view_versions') }}
    where {{ unread.filter }} and previous_user_id is not null

),

deltas as (

    select
        user_id,
        content_id,
        cast(sum(views) as {{ int_type() }}) as views,
        max(batch_loaded_at) as batch_loaded_at
    from changes
    group by user_id, content_id

),

final as (

    select
        deltas.user_id,
        deltas.content_id,
        {%- if is_incremental() %}
            coalesce(existing.views, 0) + deltas.views as views,
        {%- else %}
            deltas.views,
        {%- endif %}
        deltas.batch_loaded_at
    from deltas
    {% if is_incremental() -%}
    left join {{ this }} as existing
        on deltas.user_id = existing.user_id and deltas.content_id = existing.content_id
    {%- endif %}

)

select * from final
