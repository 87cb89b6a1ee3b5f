-- the QuickBooks costs in job_costing are every live Purchase and Bill line booked against a
-- job's sub-customer, no more, no less
with

job_customers as (

    select qbo_customer_id
    from {{ ref('job_costing') }}
    where qbo_customer_id is not null

),

purchase_lines as (

    select
        purchase_lines.qbo_customer_id,
        purchase_lines.amount
    from {{ ref('stg_qbo__purchase_lines') }} as purchase_lines
    inner join {{ ref('stg_qbo__purchases') }} as purchases
        on purchase_lines.qbo_purchase_id = purchases.qbo_purchase_id
    where not purchases.is_deleted

),

bill_lines as (

    select
        bill_lines.qbo_customer_id,
        bill_lines.amount
    from {{ ref('stg_qbo__bill_lines') }} as bill_lines
    inner join {{ ref('stg_qbo__bills') }} as bills
        on bill_lines.qbo_bill_id = bills.qbo_bill_id
    where not bills.is_deleted

),

booked as (

    select coalesce(sum(booked_lines.amount), 0) as amount
    from (
        select * from purchase_lines
        union all
        select * from bill_lines
    ) as booked_lines
    where booked_lines.qbo_customer_id in (select job_customers.qbo_customer_id from job_customers)

),

costed as (

    select coalesce(sum(qbo_vendor_cost), 0) as amount
    from {{ ref('job_costing') }}

)

select
    booked.amount as booked_in_quickbooks,
    costed.amount as in_job_costing
from booked
cross join costed
where booked.amount <> costed.amount
