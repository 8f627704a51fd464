{{ config(cluster_by=cluster_columns(['view_id'])) }}

{{ event_versions(
    source_table='viewing_logs',
    key='view_id',
    event_time='started_at',
    staging='stg_content__viewing_logs',
    columns=[
        'user_id', 'content_id', 'started_at', 'activity_date',
        'watch_duration_s', 'content_duration_s', 'device', '_file_date',
    ],
) }}
