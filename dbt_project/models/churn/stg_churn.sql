-- One day's validated churn batch, typed and with its event date.
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
from {{ source('churn', 'validated_data') }}
