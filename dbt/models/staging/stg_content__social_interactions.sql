-- Every loaded copy, renamed and in UTC. A view: a filter on _file_date reaches raw, so a
-- nightly read prunes to the slices it needs. Which copy of an interaction_id wins is
-- decided in int_content__interaction_versions.
with

source as (

    select * from {{ source('raw', 'social_interactions') }}

),

renamed as (

    select
        interaction_id,
        user_id,
        content_id,
        interaction_type,
        platform,
        {{ utc_timestamp('created_at') }} as created_at,
        {{ utc_date('created_at') }} as activity_date,
        _source_file,
        _file_date,
        _source_row,
        {{ utc_timestamp('_loaded_at') }} as _loaded_at
    from source

)

select * from renamed
