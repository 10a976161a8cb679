{% macro partition_files(asset) -%}
{#- The Parquet files of this project's upstream `asset` (raw_data, validated_data) for the daily partitions of the
    range being built, as Dagster's IO manager stored them: var('partition_files')[asset], passed with --vars once
    per range (mlops_assets/features/dbt_assets.py). The layout has one home, the storage module. -#}
{%- set files = var('partition_files', {}).get(asset, []) -%}
{%- if not files and execute -%}
  {{ exceptions.raise_compiler_error("partition_files('" ~ asset ~ "'): no stored partitions of '" ~ asset ~ "' were passed in var('partition_files'); build the features through Dagster (it passes them), or pass {'partition_files': {'" ~ asset ~ "': [<parquet paths>]}} with --vars") }}
{%- endif -%}
[{%- for path in (files or ['/nonexistent/parse-time.parquet']) -%}
'{{ path }}'{{ "," if not loop.last }}
{%- endfor -%}]
{%- endmacro %}
