-- general-contracting retainage: per progress bill, the share of its total the customer may
-- hold back until the project is accepted, and whether it has been released (job completed)
with

jobs as (

    select
        job_id,
        job_status,
        completed_on
    from {{ ref('stg_ops__jobs') }}
    where not is_deleted

),

invoices as (

    select
        invoice_id,
        invoice_number,
        job_id,
        customer_id,
        progress_sequence,
        issue_date,
        total,
        retainage_percent
    from {{ ref('stg_ops__invoices') }}
    where
        not is_deleted
        and status not in ('draft', 'void')
        and job_id is not null
        and retainage_percent > 0

),

withheld as (

    select
        invoices.invoice_id,
        invoices.invoice_number,
        invoices.job_id,
        invoices.customer_id,
        invoices.progress_sequence,
        invoices.issue_date,
        invoices.total as invoice_total,
        invoices.retainage_percent,
        -- percent × 0.01 keeps the arithmetic exact (a division would be a double on DuckDB);
        -- half away from zero, to the cent, once per bill
        cast(round(invoices.total * invoices.retainage_percent * 0.01, 2) as numeric(18, 2))
            as retainage_amount,
        (jobs.job_status = 'completed' and jobs.completed_on is not null) as is_released,
        case when jobs.job_status = 'completed' then jobs.completed_on end as released_on
    from invoices
    inner join jobs
        on invoices.job_id = jobs.job_id

),

final as (

    select
        invoice_id,
        invoice_number,
        job_id,
        customer_id,
        progress_sequence,
        issue_date,
        invoice_total,
        retainage_percent,
        retainage_amount,
        case when is_released then 'released' else 'held' end as retainage_status,
        released_on,
        cast(case when is_released then 0 else retainage_amount end as numeric(18, 2))
            as retainage_held,
        cast(case when is_released then retainage_amount else 0 end as numeric(18, 2))
            as retainage_released
    from withheld

)

select * from final
