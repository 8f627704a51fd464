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

{{ event_current(
    versions_model='int_content__view_versions',
    key='view_id',
    columns=[
        'user_id', 'content_id', 'started_at', 'activity_date',
        'watch_duration_s', 'content_duration_s', 'device', '_file_date',
    ],
) }}
