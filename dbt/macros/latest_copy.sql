{#- The dedupe rule, in one place: per id the copy from the most recent file date wins,
    and within one file the last row (largest _source_row). Used by the staging views and
    by the version logs, which apply it to the affected ids' copies only. -#}
{% macro latest_copy_per(key) -%}
    qualify row_number() over (
        partition by {{ key }}
        order by _file_date desc, _source_row desc
    ) = 1
{%- endmacro %}
