-- The validated churn batches of the days being built, typed and with their event date.
-- The source is declared in sources.yml (lineage); the files read are the range's daily partitions.
select
    customer_id,
    event_time,
    cast(event_time as date) as event_date,
    signup_date,
    tenure_months,
    contract,
    payment_method,
    internet_service,
    region,
    senior_citizen,
    num_products,
    monthly_charges,
    total_charges,
    support_calls,
    usage_minutes,
    late_payments,
    churned
from read_parquet({{ partition_files('validated_data') }})
-- depends_on: {{ source('churn', 'validated_data') }}
