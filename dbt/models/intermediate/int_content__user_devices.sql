{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['user_id', 'device'],
        cluster_by=cluster_columns(['user_id']),
    )
}}

{%- set unread = unread_versions(
    ref('int_content__view_versions'), state=ref('int_content__views_current')
) %}

with

changes as (

    -- as in int_content__user_contents; a view without a device counts for none
    select
        user_id,
        device,
        1 as views,
        batch_loaded_at
    from {{ ref('int_content__view_versions') }}
    where {{ unread.filter }} and not is_deleted and device is not null
    union all
    select
        previous_user_id as user_id,
        previous_device as device,
        -1 as views,
        batch_loaded_at
    from {{ ref('int_content__view_versions') }}
    where {{ unread.filter }} and previous_device is not null

),

deltas as (

    select
        user_id,
        device,
        cast(sum(views) as {{ int_type() }}) as views,
        max(batch_loaded_at) as batch_loaded_at
    from changes
    group by user_id, device

),

final as (

    select
        deltas.user_id,
        deltas.device,
        {%- if is_incremental() %}
            coalesce(existing.views, 0) + deltas.views as views,
        {%- else %}
            deltas.views,
        {%- endif %}
        deltas.batch_loaded_at
    from deltas
    {% if is_incremental() -%}
    left join {{ this }} as existing
        on deltas.user_id = existing.user_id and deltas.device = existing.device
    {%- endif %}

)

select * from final
