{{ config(cluster_by=cluster_columns(['interaction_id'])) }}

{{ event_versions(
    source_table='social_interactions',
    key='interaction_id',
    event_time='created_at',
    staging='stg_content__social_interactions',
    columns=[
        'user_id', 'content_id', 'interaction_type', 'created_at', 'activity_date',
        '_file_date',
    ],
) }}
