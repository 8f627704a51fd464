with

source as (

    select * from {{ source('raw', 'viewing_logs') }}

),

renamed as (

    select
        view_id,
        user_id,
        content_id,
        genre,
        {{ utc_timestamp('started_at') }} as started_at,
        {{ utc_date('started_at') }} as activity_date,
        watch_duration_s,
        content_duration_s,
        device,
        country,
        _source_file,
        _file_date,
        _source_row,
        {{ utc_timestamp('_loaded_at') }} as _loaded_at
    from source
    -- one copy per id: the most recent file date wins, then the last row of that file
    {{ latest_copy_per('view_id') }}

)

select * from renamed
