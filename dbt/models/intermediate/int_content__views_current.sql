{{
    config(
        meta={
            'replace_keys': {
                'key': 'view_id',
                'from': [{'log': 'int_content__view_versions', 'id': 'view_id'}],
            },
        },
        cluster_by=cluster_columns(['activity_date', 'user_id']),
    )
}}

{%- set plan = replace_keys_plan() %}

with

new_versions as (

    select
        *,
        row_number() over (
            partition by view_id order by batch_loaded_at desc
        ) as version_rank
    from {{ ref('int_content__view_versions') }}
    where {{ replace_keys_since(plan) }}

),

latest as (

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
        is_deleted,
        batch_loaded_at
    from new_versions
    where version_rank = 1

)

select * from latest
