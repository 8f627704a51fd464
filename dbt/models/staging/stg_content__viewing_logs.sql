-- Every loaded copy, renamed and in UTC. A view: a filter on _file_date reaches raw, so a
-- nightly read prunes to the slices it needs. Which copy of a view_id wins is decided in
-- int_content__view_versions.
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

)

select * from renamed
