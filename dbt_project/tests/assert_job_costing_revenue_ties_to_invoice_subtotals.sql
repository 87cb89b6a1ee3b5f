-- everything a job billed (revenue, permits, agreement sales, warranty lines) is the sum of
-- the subtotals of its billed invoices; warn: operations keeps the subtotal, and dirty data
-- can break its rule
{{ config(severity='warn') }}

with

invoices as (

    select
        job_id,
        sum(subtotal) as subtotal
    from {{ ref('stg_ops__invoices') }}
    where
        not is_deleted
        and status not in ('draft', 'void')
        and job_id is not null
    group by job_id

),

jobs as (

    select
        job_id,
        revenue + permits_billed + agreement_billed + warranty_billed_net as billed
    from {{ ref('job_costing') }}

)

select
    jobs.job_id,
    jobs.billed,
    invoices.subtotal
from jobs
left join invoices
    on jobs.job_id = invoices.job_id
where jobs.billed <> coalesce(invoices.subtotal, 0)
