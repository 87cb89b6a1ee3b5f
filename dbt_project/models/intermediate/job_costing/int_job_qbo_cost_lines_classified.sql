-- the expense lines of live QuickBooks Purchases and Bills booked against a job (the line's
-- CustomerRef is the job's sub-customer), in the cost group of the operations expense that
-- became the transaction; a line nobody in operations wrote stays 'unclassified'
with

jobs as (

    select
        job_id,
        qbo_id
    from {{ ref('stg_ops__jobs') }}
    where
        not is_deleted
        and qbo_id is not null

),

purchase_lines as (

    select
        'purchase' as qbo_txn_type,
        purchase_lines.qbo_purchase_id as qbo_txn_id,
        purchase_lines.line_index,
        purchase_lines.qbo_customer_id,
        purchase_lines.qbo_account_id,
        purchase_lines.amount,
        purchases.txn_date
    from {{ ref('stg_qbo__purchase_lines') }} as purchase_lines
    inner join {{ ref('stg_qbo__purchases') }} as purchases
        on purchase_lines.qbo_purchase_id = purchases.qbo_purchase_id
    where
        not purchase_lines.is_deleted
        and not purchases.is_deleted

),

bill_lines as (

    select
        'bill' as qbo_txn_type,
        bill_lines.qbo_bill_id as qbo_txn_id,
        bill_lines.line_index,
        bill_lines.qbo_customer_id,
        bill_lines.qbo_account_id,
        bill_lines.amount,
        bills.txn_date
    from {{ ref('stg_qbo__bill_lines') }} as bill_lines
    inner join {{ ref('stg_qbo__bills') }} as bills
        on bill_lines.qbo_bill_id = bills.qbo_bill_id
    where
        not bill_lines.is_deleted
        and not bills.is_deleted

),

cost_lines as (

    select * from purchase_lines
    union all
    select * from bill_lines

),

-- one cost group per QuickBooks transaction; operations expenses that disagree give none
expense_groups as (

    select
        qbo_txn_type,
        qbo_txn_id,
        case when count(distinct cost_group) = 1 then min(cost_group) end as cost_group
    from {{ ref('int_job_expenses_classified') }}
    where qbo_txn_id is not null
    group by qbo_txn_type, qbo_txn_id

),

classified as (

    select
        cost_lines.qbo_txn_type,
        cost_lines.qbo_txn_id,
        cost_lines.line_index,
        jobs.job_id,
        cost_lines.qbo_customer_id,
        cost_lines.qbo_account_id,
        cost_lines.txn_date,
        cast(coalesce(cost_lines.amount, 0) as numeric(18, 2)) as amount,
        coalesce(expense_groups.cost_group, 'unclassified') as cost_group
    from cost_lines
    inner join jobs
        on cost_lines.qbo_customer_id = jobs.qbo_id
    left join expense_groups
        on
            cost_lines.qbo_txn_type = expense_groups.qbo_txn_type
            and cost_lines.qbo_txn_id = expense_groups.qbo_txn_id

)

select * from classified
