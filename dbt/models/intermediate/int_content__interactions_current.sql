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

{{ event_current(
    versions_model='int_content__interaction_versions',
    key='interaction_id',
    columns=[
        'user_id', 'content_id', 'interaction_type', 'created_at', 'activity_date',
        '_file_date',
    ],
) }}
