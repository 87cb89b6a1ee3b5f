-- a table, not ephemeral: read by the outbound set and the tie-out, and unit-tested
{{ config(materialized='table') }}

-- every operations expense as QuickBooks should hold it: a Purchase (card, cash) or a
-- Bill (on account) through map_expense_payment_accounts, the expense account of its
-- category (map_expense_categories), the job as CustomerRef (its QuickBooks
-- sub-customer, or the customer when jobs_as_subcustomers is off), the class of the
-- job's trade (map_trades), the location of the branch (map_branches) and the billable
-- status; only reviewed mappings are used. waiting_on names the first reason it cannot
-- be written yet. The payload hash names the vendor and the job by their operations
-- ids, so linking them later does not make the expense "changed".
-- Read by the outbound set (sync_qbo_expenses) and the tie-out (expense_tieout), so the
-- two always agree on what an expense should be.
with

expenses as (

    select * from {{ ref('stg_ops__expenses') }}

),

jobs as (

    select * from {{ ref('stg_ops__jobs') }}

),

vendors as (

    select * from {{ ref('int_vendors_matched') }}

),

customers as (

    select * from {{ ref('int_customers_matched') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

category_map as (

    select * from {{ ref('map_expense_categories') }}
    where reviewed

),

payment_map as (

    select * from {{ ref('map_expense_payment_accounts') }}
    where reviewed

),

trade_map as (

    select * from {{ ref('map_trades') }}
    where reviewed

),

branch_map as (

    select * from {{ ref('map_branches') }}
    where reviewed

),

job_links as (

    select
        jobs.job_id,
        jobs.customer_id,
        jobs.trade_id,
        case
            when {{ var('jobs_as_subcustomers') }} then 'job'
            else 'customer'
        end as customer_ref_entity,
        case
            when {{ var('jobs_as_subcustomers') }} then jobs.job_id
            else jobs.customer_id
        end as ops_customer_ref_id,
        case
            when {{ var('jobs_as_subcustomers') }}
                then coalesce(job_ledger.qbo_id, jobs.qbo_id)
            else customers.qbo_customer_id
        end as qbo_customer_ref_id
    from jobs
    left join ledger as job_ledger
        on jobs.job_id = job_ledger.ops_id and job_ledger.entity = 'job'
    left join customers
        on jobs.customer_id = customers.ops_customer_id

),

payloads as (

    select
        expenses.expense_id as ops_expense_id,
        expenses.is_deleted,
        case when expenses.paid_by = 'on_account' then 'Bill' else 'Purchase' end as txn_type,
        expenses.paid_by,
        payment_map.qbo_payment_type as payment_type,
        payment_map.qbo_account_id as payment_account_id,
        expenses.vendor_id as ops_vendor_id,
        vendors.qbo_vendor_id,
        expenses.expense_date as txn_date,
        expenses.due_date,
        expenses.reference as doc_number,
        'fieldbooks:expense:' || expenses.expense_id as private_note,
        branch_map.qbo_department_id as department_id,
        expenses.expense_category,
        category_map.qbo_account_id as expense_account_id,
        expenses.job_id as ops_job_id,
        job_links.customer_ref_entity,
        job_links.ops_customer_ref_id,
        job_links.qbo_customer_ref_id as customer_ref_id,
        trade_map.qbo_class_id as class_id,
        case
            when expenses.is_billable and expenses.job_id is not null then 'Billable'
            else 'NotBillable'
        end as billable_status,
        expenses.description,
        expenses.amount,
        case
            when category_map.qbo_account_id is null then 'expense_category_unmapped'
            when payment_map.qbo_account_id is null then 'payment_method_unmapped'
            when vendors.qbo_vendor_id is null then 'vendor'
            when expenses.job_id is not null and job_links.qbo_customer_ref_id is null then 'job'
        end as waiting_on
    from expenses
    left join payment_map
        on expenses.paid_by = payment_map.paid_by
    left join vendors
        on expenses.vendor_id = vendors.ops_vendor_id
    left join branch_map
        on expenses.branch_id = branch_map.branch_id
    left join category_map
        on expenses.expense_category = category_map.expense_category
    left join job_links
        on expenses.job_id = job_links.job_id
    left join trade_map
        on job_links.trade_id = trade_map.trade_id

),

hashed as (

    select
        payloads.*,
        {{ fb_hash([
            'payloads.txn_type',
            'payloads.payment_type',
            'payloads.payment_account_id',
            'payloads.ops_vendor_id',
            'payloads.txn_date',
            'payloads.due_date',
            'payloads.doc_number',
            'payloads.department_id',
            'payloads.expense_account_id',
            'payloads.customer_ref_entity',
            'payloads.ops_customer_ref_id',
            'payloads.class_id',
            'payloads.billable_status',
            'payloads.description',
            'payloads.amount',
        ]) }} as payload_hash
    from payloads

)

select * from hashed
