{{
    config(
        materialized='incremental',
        incremental_strategy=write_strategy(),
        unique_key=['interaction_id', 'activity_date'],
        partition_by=date_partition_by('activity_date'),
        cluster_by=cluster_columns(['interaction_id']),
    )
}}

{%- set unread = unread_versions(ref('int_content__interaction_versions'), state=this) %}

with

unread as (

    -- versions logged since this model's last run
    select *
    from {{ ref('int_content__interaction_versions') }}
    where {{ unread.filter }}

),

latest as (

    select *
    from unread
    qualify row_number() over (partition by interaction_id order by batch_loaded_at desc) = 1

),

live as (

    select
        interaction_id,
        user_id,
        content_id,
        interaction_type,
        created_at,
        activity_date,
        _file_date,
        false as is_deleted,
        batch_loaded_at
    from latest
    where not is_deleted

),

{% if is_incremental() %}

departures as (

    -- the row an interaction left on another day becomes a tombstone
    select
        unread.interaction_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ dbt.type_string() }}) as content_id,
        cast(null as {{ dbt.type_string() }}) as interaction_type,
        cast(null as timestamp) as created_at,
        unread.previous_activity_date as activity_date,
        cast(null as date) as _file_date,
        true as is_deleted,
        max(unread.batch_loaded_at) as batch_loaded_at
    from unread
    left join live
        on
            unread.interaction_id = live.interaction_id
            and unread.previous_activity_date = live.activity_date
    where unread.previous_activity_date is not null and live.interaction_id is null
    group by unread.interaction_id, unread.previous_activity_date

),

{% endif %}

final as (

    select * from live
    {% if is_incremental() -%}
    union all
    select * from departures
    {%- endif %}

)

select * from final
{{ storage_order('activity_date') }}
