{{
    config(
        meta={
            'replace_keys': {
                'key': 'interaction_id',
                'from': [{'log': 'int_content__interaction_versions', 'id': 'interaction_id'}],
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
            partition by interaction_id order by batch_loaded_at desc
        ) as version_rank
    from {{ ref('int_content__interaction_versions') }}
    where {{ replace_keys_since(plan) }}

),

latest as (

    select
        interaction_id,
        user_id,
        content_id,
        interaction_type,
        created_at,
        activity_date,
        _file_date,
        is_deleted,
        batch_loaded_at
    from new_versions
    where version_rank = 1

)

select * from latest
