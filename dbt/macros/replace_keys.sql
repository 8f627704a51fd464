{#-
    replace_keys: an incremental materialization that replaces whole keys.

    Configured under `meta.replace_keys` (dbt wants custom config keys under meta):
      key:      the column whose values are replaced (absent: append only);
      literals: read the affected keys first and inline them as literals;
      from:     the version logs the keys come from, each {log, id, current}.

    A model materialized this way is a table. On its first build, on --full-refresh, or
    when it holds no watermark yet, it is built in full (with the contract enforced, and
    BigQuery partitioning/clustering applied by the adapter's create_table_as).

    Afterwards each run:
    - without `key`: appends the model's rows (the append-only version logs);
    - with `key`: deletes every row whose key is affected and inserts the model's
      rows, which the model recomputes for exactly those keys, in one transaction
      (DuckDB) or one multi-statement transaction (BigQuery). A key whose rows no longer
      exist is therefore deleted.

    Affected keys come from the version logs named in `from`, relative to the
    model's watermark (the largest `batch_loaded_at` it holds):
    - the key of every log row newer than the watermark (and not newer than the
      watermark of the `current` model built from that log, if given);
    - for each id in those rows, the key of its latest version at or before the
      watermark, i.e. where its old contribution sits.
    With `literals: true` the keys are read with run_query and inlined as
    literals, so BigQuery prunes date partitions on both the delete and the read.

    The model SQL and the materialization both call replace_keys_plan(); it reads the
    same tables within one node, so both see the same plan.
-#}

{#- True when the model should run incrementally. dbt's is_incremental() is tied to
    materialized='incremental', so this is its counterpart. Outside run/build (compile,
    docs, sqlfluff) the full-build SQL is rendered without touching the warehouse, unless
    --vars '{replace_keys_compile_as: incremental}' asks for the incremental SQL with
    placeholder literals (to check it compiles for another adapter). -#}
{% macro replace_keys_is_incremental() %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if flags.WHICH not in ('run', 'build') or model.resource_type == 'unit_test' -%}
        {{ return(var('replace_keys_compile_as', 'full') == 'incremental') }}
    {%- endif -%}
    {%- if should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = load_cached_relation(this) -%}
    {{ return(existing is not none and existing.is_table) }}
{% endmacro %}

{#- Placeholder plans render SQL without reading the warehouse. -#}
{% macro replace_keys_placeholder() %}
    {{ return(flags.WHICH not in ('run', 'build') or model.resource_type == 'unit_test') }}
{% endmacro %}

{#- Largest batch_loaded_at of a relation (a datetime), or none when it is empty. -#}
{% macro max_batch_loaded_at(relation) %}
    {%- if replace_keys_placeholder() -%}
        {{ return(modules.datetime.datetime(1970, 1, 1)) }}
    {%- endif -%}
    {%- set result = run_query('select max(batch_loaded_at) as watermark from ' ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}

{#- The model's meta.replace_keys settings. -#}
{% macro replace_keys_config() %}
    {{ return((config.get('meta') or {}).get('replace_keys') or {}) }}
{% endmacro %}

{% macro replace_keys_plan() %}
    {%- set settings = replace_keys_config() -%}
    {%- set key = settings.get('key') -%}
    {%- set plan = {'incremental': replace_keys_is_incremental(), 'key': key} -%}
    {%- if not plan.incremental -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set watermark = max_batch_loaded_at(this) -%}
    {%- do plan.update({'watermark': watermark}) -%}
    {%- if key is none -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- if watermark is none -%}
        {#- Nothing recorded yet (an empty table): build in full. -#}
        {%- do plan.update({'incremental': false}) -%}
        {{ return(plan) }}
    {%- endif -%}

    {%- set selects = [] -%}
    {%- set uppers = [] -%}
    {%- for source in settings.get('from', []) -%}
        {%- set log = ref(source['log']) -%}
        {%- set id = source['id'] -%}
        {%- set window = ['batch_loaded_at > ' ~ timestamp_literal(watermark)] -%}
        {%- set upper = none -%}
        {%- if source.get('current') -%}
            {%- set upper = max_batch_loaded_at(ref(source['current'])) -%}
            {%- if upper is not none -%}
                {%- do uppers.append(upper) -%}
                {%- do window.append('batch_loaded_at <= ' ~ timestamp_literal(upper)) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if upper is not none or not source.get('current') -%}
            {%- set window_sql = window | join(' and ') -%}
            {%- do selects.append(
                'select ' ~ key ~ ' as affected_key from ' ~ log
                ~ ' where ' ~ window_sql ~ ' and ' ~ key ~ ' is not null'
            ) -%}
            {%- if key != id -%}
                {%- do selects.append(
                    'select ' ~ key ~ ' as affected_key from (select ' ~ key
                    ~ ', row_number() over (partition by ' ~ id
                    ~ ' order by batch_loaded_at desc) as version_rank from ' ~ log
                    ~ ' where batch_loaded_at <= ' ~ timestamp_literal(watermark)
                    ~ ' and ' ~ id ~ ' in (select ' ~ id ~ ' from ' ~ log
                    ~ ' where ' ~ window_sql ~ ')) as previous_versions'
                    ~ ' where version_rank = 1 and ' ~ key ~ ' is not null'
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set keys_sql = none -%}
    {%- if selects -%}
        {%- set keys_sql = 'select distinct affected_key from (' ~ selects | join(' union all ')
            ~ ') as affected_keys' -%}
    {%- endif -%}
    {%- do plan.update({
        'keys_sql': keys_sql,
        'stamp': (uppers | min) if uppers else watermark,
        'key_values': none,
    }) -%}
    {%- if settings.get('literals') -%}
        {%- set values = [] -%}
        {%- if replace_keys_placeholder() -%}
            {%- do values.append(modules.datetime.date(1970, 1, 1)) -%}
        {%- elif keys_sql is not none -%}
            {%- set values = run_query(keys_sql ~ ' order by affected_key').columns[0].values() | list -%}
        {%- endif -%}
        {%- do plan.update({'key_values': values}) -%}
    {%- endif -%}
    {{ return(plan) }}
{% endmacro %}

{#- SQL literal of a key value read back from the warehouse. -#}
{% macro key_literal(value) %}
    {%- if value is string -%}
        {{ return(string_literal(value)) }}
    {%- else -%}
        {{ return(date_literal(value)) }}
    {%- endif -%}
{% endmacro %}

{#- Predicate restricting `column` (default: the replace key) to the affected keys. -#}
{% macro replace_keys_filter(plan, column=none) %}
    {%- set column = column or plan.key -%}
    {%- if not plan.incremental -%}
        {{ return('true') }}
    {%- elif plan.key_values is not none -%}
        {%- if not plan.key_values -%}
            {{ return('false') }}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for value in plan.key_values -%}
            {%- do literals.append(key_literal(value)) -%}
        {%- endfor -%}
        {{ return(column ~ ' in (' ~ literals | join(', ') ~ ')') }}
    {%- elif plan.keys_sql is none -%}
        {{ return('false') }}
    {%- else -%}
        {{ return(column ~ ' in (' ~ plan.keys_sql ~ ')') }}
    {%- endif -%}
{% endmacro %}

{#- Predicate on batch_loaded_at: rows newer than the model's watermark. -#}
{% macro replace_keys_since(plan) %}
    {%- if plan.incremental and plan.watermark is not none -%}
        {{ return('batch_loaded_at > ' ~ timestamp_literal(plan.watermark)) }}
    {%- else -%}
        {{ return('true') }}
    {%- endif -%}
{% endmacro %}

{#- The batch_loaded_at a rebuilt row is stamped with: the smallest watermark of the
    `current` models it is computed from (given as relations, so unit tests can swap in
    fixtures). A later run redoing a little is harmless, missing something is not. -#}
{% macro replace_keys_stamp(plan, current_relations) %}
    {%- if plan.incremental -%}
        {{ return(timestamp_literal(plan.stamp)) }}
    {%- endif -%}
    {%- set maxima = [] -%}
    {%- for relation in current_relations -%}
        {%- do maxima.append('select max(batch_loaded_at) as watermark from ' ~ relation) -%}
    {%- endfor -%}
    {{ return('(select min(watermark) from (' ~ maxima | join(' union all ') ~ ') as watermarks)') }}
{% endmacro %}

{#- Statements that replace the affected keys (or append, without a key). -#}
{% macro replace_keys_statements(relation, predicate, columns, sql) %}
    {{ return(adapter.dispatch('replace_keys_statements')(relation, predicate, columns, sql)) }}
{% endmacro %}

{% macro default__replace_keys_statements(relation, predicate, columns, sql) %}
    {%- set statements = [] -%}
    {%- if predicate is not none -%}
        {%- do statements.append('delete from ' ~ relation ~ ' where ' ~ predicate) -%}
    {%- endif -%}
    {%- do statements.append(
        'insert into ' ~ relation ~ ' (' ~ columns | join(', ') ~ ')\nselect '
        ~ columns | join(', ') ~ ' from (\n' ~ sql ~ '\n) as model_rows'
    ) -%}
    {{ return(statements) }}
{% endmacro %}

{#- BigQuery has no session transaction across dbt statements: one script does it. -#}
{% macro bigquery__replace_keys_statements(relation, predicate, columns, sql) %}
    {%- set statements = default__replace_keys_statements(relation, predicate, columns, sql) -%}
    {%- if statements | length == 1 -%}
        {{ return(statements) }}
    {%- endif -%}
    {{ return(['begin transaction;\n' ~ statements | join(';\n') ~ ';\ncommit transaction']) }}
{% endmacro %}

{#- Full build: BigQuery's create_table_as is `create or replace`; elsewhere drop the old
    relation first, inside the same transaction. -#}
{% macro replace_keys_drop_before_create(existing) %}
    {{ return(adapter.dispatch('replace_keys_drop_before_create')(existing)) }}
{% endmacro %}

{% macro default__replace_keys_drop_before_create(existing) %}
    {%- if existing is not none -%}
        {%- call statement('drop_existing') -%}
            drop {{ existing.type }} if exists {{ existing }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}

{% macro bigquery__replace_keys_drop_before_create(existing) %}
    {%- if existing is not none and not existing.is_table -%}
        {% do adapter.drop_relation(existing) %}
    {%- endif -%}
{% endmacro %}

{% materialization replace_keys, default %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set plan = replace_keys_plan() -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if plan.incremental -%}
        {%- if config.get('contract').enforced -%}
            {% do get_assert_columns_equivalent(sql) %}
        {%- endif -%}
        {%- set columns = [] -%}
        {%- for column in adapter.get_columns_in_relation(target_relation) -%}
            {%- do columns.append(adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- set predicate = replace_keys_filter(plan) if plan.key is not none else none -%}
        {%- set statements = replace_keys_statements(target_relation, predicate, columns, sql) -%}
        {%- for statement_sql in statements -%}
            {%- if loop.last -%}
                {%- call statement('main') -%}{{ statement_sql }}{%- endcall -%}
            {%- else -%}
                {%- call statement('replace_keys_' ~ loop.index) -%}{{ statement_sql }}{%- endcall -%}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ replace_keys_drop_before_create(existing) }}
        {%- call statement('main') -%}
            {{ replace_keys_create_table_sql(target_relation, sql) }}
        {%- endcall -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
