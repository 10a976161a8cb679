{% macro partition_files(asset) -%}
{#- The Parquet files of `asset`'s daily partitions in the range being built: the days in var('partition_days'),
    under var('data_dir'). Dagster passes both with --vars, once per range. -#}
[{%- for day in var('partition_days', ['1970-01-01']) -%}
'{{ var("data_dir", ".mlops_data") }}/assets/churn/{{ asset }}/{{ day }}.parquet'{{ "," if not loop.last }}
{%- endfor -%}]
{%- endmacro %}
