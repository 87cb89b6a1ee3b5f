-- every live vendor expense of a live job, in the job-costing cost groups, with the
-- QuickBooks transaction it became (card or cash: a Purchase; on account: a Bill)
with

jobs as (

    select
        job_id,
        is_warranty
    from {{ ref('stg_ops__jobs') }}
    where not is_deleted

),

expenses as (

    select
        expense_id,
        job_id,
        vendor_id,
        expense_category,
        paid_by,
        amount,
        expense_date,
        qbo_id
    from {{ ref('stg_ops__expenses') }}
    where
        not is_deleted
        and job_id is not null

),

classified as (

    select
        expenses.expense_id,
        expenses.job_id,
        expenses.vendor_id,
        expenses.expense_category,
        expenses.amount,
        expenses.expense_date,
        jobs.is_warranty,
        case expenses.expense_category
            when 'material' then 'materials'
            when 'subcontract' then 'subcontract'
            when 'permit' then 'permit'
            when 'equipment_rental' then 'equipment'
            else 'other'
        end as cost_group,
        case when expenses.paid_by = 'on_account' then 'bill' else 'purchase' end as qbo_txn_type,
        expenses.qbo_id as qbo_txn_id
    from expenses
    inner join jobs
        on expenses.job_id = jobs.job_id

)

select * from classified
