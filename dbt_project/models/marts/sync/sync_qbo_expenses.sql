-- the operations expenses load_quickbooks must write to QuickBooks: paid by card or cash
-- as a Purchase, on account as a Bill (map_expense_payment_accounts), one line carrying
-- the expense account (map_expense_categories), the job as CustomerRef (its QuickBooks
-- sub-customer, or the customer when jobs_as_subcustomers is off), the class of the
-- job's trade (map_trades), the location of the branch (map_branches, on the header) and
-- the billable status. Only reviewed mappings are used.
-- action: create (no ledger row), update (payload changed, or last push pending/failed),
-- delete (deleted in operations after it was written, until the ledger holds the delete's
-- own payload hash). A row that cannot be written yet says why in waiting_on (first
-- reason): an unmapped category or payment method, a vendor or job not in QuickBooks yet.
-- waiting_on is as of this build: the loader resolves the vendor and the CustomerRef
-- (customer_ref_entity + ops_customer_ref_id) again from the ledger when it writes, so
-- ones it wrote earlier in the same run count. The payload hash names the vendor and the
-- job by their operations ids, so linking them later does not make the expense "changed".
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

expense_ledger as (

    select * from ledger
    where entity = 'expense'

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

),

ledgered as (

    select
        hashed.*,
        expense_ledger.ops_id as ledger_ops_id,
        expense_ledger.qbo_id,
        expense_ledger.state as ledger_state,
        expense_ledger.payload_hash as ledger_payload_hash,
        {{ fb_hash(["'delete'", "'expense'", 'hashed.ops_expense_id', 'expense_ledger.qbo_id']) }}
            as delete_hash
    from hashed
    left join expense_ledger
        on hashed.ops_expense_id = expense_ledger.ops_id

),

decided as (

    select
        hashed.ops_expense_id,
        case
            when hashed.is_deleted then 'delete'
            when hashed.qbo_id is null then 'create'
            else 'update'
        end as action,
        hashed.qbo_id,
        hashed.txn_type,
        hashed.paid_by,
        hashed.payment_type,
        hashed.payment_account_id,
        hashed.ops_vendor_id,
        hashed.qbo_vendor_id,
        hashed.txn_date,
        hashed.due_date,
        hashed.doc_number,
        hashed.private_note,
        hashed.department_id,
        hashed.expense_category,
        hashed.expense_account_id,
        hashed.ops_job_id,
        hashed.customer_ref_entity,
        hashed.ops_customer_ref_id,
        hashed.customer_ref_id,
        hashed.class_id,
        hashed.billable_status,
        hashed.description,
        hashed.amount,
        case when hashed.is_deleted then null else hashed.waiting_on end as waiting_on,
        -- a delete carries its own hash: once the ledger holds it, the delete is done
        case when hashed.is_deleted then hashed.delete_hash else hashed.payload_hash end
            as payload_hash,
        case
            when
                hashed.is_deleted
                and hashed.qbo_id is not null
                and coalesce(hashed.ledger_payload_hash, '') <> hashed.delete_hash
                then 'deleted'
            when hashed.is_deleted then null
            when hashed.ledger_ops_id is null then 'new'
            when hashed.ledger_state in ('pending', 'failed') then 'retry'
            when coalesce(hashed.ledger_payload_hash, '') <> hashed.payload_hash then 'changed'
        end as reason
    from ledgered as hashed

)

select * from decided
where reason is not null
