{% macro partition_files(asset) -%}
{#- The Parquet files of this project's `asset` for the daily partitions in the range being built: the days in
    var('partition_days') of var('project'), under var('data_dir'). Dagster passes all three with --vars, once per
    range. -#}
[{%- for day in var('partition_days', ['1970-01-01']) -%}
'{{ var("data_dir", ".mlops_data") }}/assets/{{ var("project", "churn") }}/{{ asset }}/{{ day }}.parquet'{{ "," if not loop.last }}
{%- endfor -%}]
{%- endmacro %}
