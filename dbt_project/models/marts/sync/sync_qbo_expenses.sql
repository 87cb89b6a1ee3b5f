-- the operations expenses load_quickbooks must write to QuickBooks, as
-- int_expenses_mapped maps them (a Purchase or a Bill with its account, job, class,
-- location and billable status).
-- action: create (no ledger row), update (payload changed, or last push pending/failed),
-- delete (deleted in operations after it was written, until the ledger holds the delete's
-- own payload hash). A row that cannot be written yet says why in waiting_on (first
-- reason): an unmapped category or payment method, a vendor or job not in QuickBooks yet.
-- waiting_on is as of this build: the loader resolves the vendor and the CustomerRef
-- (customer_ref_entity + ops_customer_ref_id) again from the ledger when it writes, so
-- ones it wrote earlier in the same run count.
with

hashed as (

    select * from {{ ref('int_expenses_mapped') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

expense_ledger as (

    select * from ledger
    where entity = 'expense'

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
