{#- One row per file slice loaded (table, file date): what came in, what was loaded and
    rejected, why, and when. Small (two rows a day), so rebuilt whole each night from the
    audit table and the rejects (a reject is a few dozen bytes; the rows stay unread). -#}

{#- The freshness each raw table declares (staging/__sources.yml) as `when <table> then
    <hours>` cases: the dashboard judges the age of a table's newest load by them. -#}
{%- set hours_per = {'minute': 1 / 60, 'hour': 1, 'day': 24} %}
{%- set cases = {'warn_after': [], 'error_after': []} %}
{%- for source in graph.sources.values() if execute and source.source_name == 'raw' %}
    {%- for level, whens in cases.items() if (source.freshness or {})[level] %}
        {%- set after = source.freshness[level] %}
        {%- if after.count %}
            {%- do whens.append("when '" ~ source.name ~ "' then "
                ~ after.count * hours_per[after.period]) %}
        {%- endif %}
    {%- endfor %}
{%- endfor %}

with

audit as (

    select
        table_name,
        _file_date as file_date,
        _source_file as source_file,
        rows_in_file,
        rows_loaded,
        rows_rejected,
        {{ utc_timestamp('_loaded_at') }} as loaded_at
    from {{ source('raw', 'load_audit') }}

),

rejects as (

    select
        'viewing_logs' as table_name,
        _file_date as file_date,
        reason
    from {{ source('raw', 'viewing_logs_rejected') }}
    union all
    select
        'social_interactions' as table_name,
        _file_date as file_date,
        reason
    from {{ source('raw', 'social_interactions_rejected') }}

),

reasons as (

    select
        table_name,
        file_date,
        reason,
        count(*) as rejected,
        row_number() over (
            partition by table_name, file_date order by count(*) desc, reason
        ) as reason_rank
    from rejects
    group by table_name, file_date, reason

),

top_reasons as (

    -- the three most frequent reasons of a slice, most frequent first, with their counts
    select
        table_name,
        file_date,
        string_agg(
            reason || ' (' || cast(rejected as {{ dbt.type_string() }}) || ')', '; '
            order by reason_rank
        ) as top_reject_reasons
    from reasons
    where reason_rank <= 3
    group by table_name, file_date

),

final as (

    select
        audit.table_name,
        audit.file_date,
        audit.source_file,
        audit.rows_in_file,
        audit.rows_loaded,
        audit.rows_rejected,
        coalesce(top_reasons.top_reject_reasons, '') as top_reject_reasons,
        audit.loaded_at,
        cast(
            case audit.table_name {{ cases.warn_after | join(' ') or 'when null then null' }} end
            as {{ float_type() }}
        ) as warn_after_hours,
        cast(
            case audit.table_name {{ cases.error_after | join(' ') or 'when null then null' }} end
            as {{ float_type() }}
        ) as error_after_hours
    from audit
    left join top_reasons
        on
            audit.table_name = top_reasons.table_name
            and audit.file_date = top_reasons.file_date

)

select * from final
