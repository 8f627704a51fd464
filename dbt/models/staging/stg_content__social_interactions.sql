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
    -- one copy per id: the most recent file date wins, then the last row of that file
    {{ latest_copy_per('interaction_id') }}

)

select * from renamed
