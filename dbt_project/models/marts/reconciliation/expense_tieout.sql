-- every operations expense against the QuickBooks Purchase (card, cash) or Bill (on
-- account) it became, and every live QuickBooks Purchase or Bill no expense accounts for.
-- ops side: live expenses, and deleted ones whose transaction is still live in QuickBooks.
-- Paired through the ledger (entity 'expense'), the ops qbo_id, else the marker a push
-- leaves in PrivateNote ('fieldbooks:expense:<ops id>', as sync_qbo_expenses sets it).
-- The mapping is int_expenses_mapped's, the one the outbound set writes: every expense
-- is compared on amount, account and job (CustomerRef), in sync or not, so an expense
-- recategorised or moved to another job in QuickBooks shows.
-- A Purchase or Bill without fieldbooks' marker was entered by a person in QuickBooks:
-- entered_in_quickbooks, ordinary bookkeeping, not missing_in_ops.
-- difference is ops minus QuickBooks, a missing (or deleted) side counting as zero.
with

ops_expenses as (

    select * from {{ ref('stg_ops__expenses') }}

),

ops_vendors as (

    select * from {{ ref('stg_ops__vendors') }}

),

ops_jobs as (

    select * from {{ ref('stg_ops__jobs') }}

),

outbound as (

    select * from {{ ref('sync_qbo_expenses') }}

),

mapped as (

    select * from {{ ref('int_expenses_mapped') }}

),

qbo_purchases as (

    select * from {{ ref('stg_qbo__purchases') }}

),

qbo_purchase_lines as (

    select * from {{ ref('stg_qbo__purchase_lines') }}

),

qbo_bills as (

    select * from {{ ref('stg_qbo__bills') }}

),

qbo_bill_lines as (

    select * from {{ ref('stg_qbo__bill_lines') }}

),

qbo_vendors as (

    select * from {{ ref('stg_qbo__vendors') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

expense_ledger as (

    select
        ops_id,
        qbo_id,
        state
    from ledger
    where entity = 'expense'

),

qbo_headers as (

    select
        'Purchase' as qbo_txn_type,
        qbo_purchase_id as qbo_id,
        qbo_entity_id as qbo_vendor_id,
        doc_number,
        txn_date,
        total_amount,
        private_note
    from qbo_purchases
    where not is_deleted

    union all

    select
        'Bill' as qbo_txn_type,
        qbo_bill_id as qbo_id,
        qbo_vendor_id,
        doc_number,
        txn_date,
        total_amount,
        private_note
    from qbo_bills
    where not is_deleted

),

qbo_lines as (

    select
        'Purchase' as qbo_txn_type,
        qbo_purchase_id as qbo_id,
        qbo_account_id,
        qbo_customer_id
    from qbo_purchase_lines

    union all

    select
        'Bill' as qbo_txn_type,
        qbo_bill_id as qbo_id,
        qbo_account_id,
        qbo_customer_id
    from qbo_bill_lines

),

qbo_line_accounts as (

    select distinct
        qbo_txn_type,
        qbo_id,
        qbo_account_id
    from qbo_lines
    where qbo_account_id is not null

),

qbo_line_customers as (

    select distinct
        qbo_txn_type,
        qbo_id,
        qbo_customer_id
    from qbo_lines
    where qbo_customer_id is not null

),

qbo_account_rollups as (

    select
        qbo_txn_type,
        qbo_id,
        {{ fb_list_agg('qbo_account_id') }} as qbo_account_ids
    from qbo_line_accounts
    group by qbo_txn_type, qbo_id

),

qbo_customer_rollups as (

    select
        qbo_txn_type,
        qbo_id,
        {{ fb_list_agg('qbo_customer_id') }} as qbo_customer_ids
    from qbo_line_customers
    group by qbo_txn_type, qbo_id

),

qbo_side as (

    select
        qbo_headers.qbo_txn_type,
        qbo_headers.qbo_id,
        qbo_headers.qbo_vendor_id,
        qbo_vendors.display_name as qbo_vendor_name,
        qbo_headers.doc_number,
        qbo_headers.txn_date,
        qbo_headers.total_amount as amount,
        qbo_account_rollups.qbo_account_ids,
        qbo_customer_rollups.qbo_customer_ids,
        qbo_headers.private_note,
        coalesce(qbo_headers.private_note like 'fieldbooks:expense:%', false) as has_marker
    from qbo_headers
    left join qbo_vendors
        on qbo_headers.qbo_vendor_id = qbo_vendors.qbo_vendor_id
    left join qbo_account_rollups
        on
            qbo_headers.qbo_txn_type = qbo_account_rollups.qbo_txn_type
            and qbo_headers.qbo_id = qbo_account_rollups.qbo_id
    left join qbo_customer_rollups
        on
            qbo_headers.qbo_txn_type = qbo_customer_rollups.qbo_txn_type
            and qbo_headers.qbo_id = qbo_customer_rollups.qbo_id

),

-- the QuickBooks transaction the ledger (else the ops qbo_id) says each expense became:
-- a Bill when on account, a Purchase otherwise, as sync_qbo_expenses writes it
crosswalk as (

    select
        ops_expenses.expense_id as ops_expense_id,
        case when ops_expenses.paid_by = 'on_account' then 'Bill' else 'Purchase' end as qbo_txn_type,
        coalesce(expense_ledger.qbo_id, ops_expenses.qbo_id) as qbo_id,
        case when expense_ledger.qbo_id is not null then 'crosswalk' else 'qbo_id' end as link_method
    from ops_expenses
    left join expense_ledger
        on ops_expenses.expense_id = expense_ledger.ops_id
    where coalesce(expense_ledger.qbo_id, ops_expenses.qbo_id) is not null

),

-- live QuickBooks transactions carrying a marker, that no crosswalk claims; of two with
-- one marker (a second copy), the first
marked as (

    select
        qbo_side.private_note as marker,
        qbo_side.qbo_txn_type,
        qbo_side.qbo_id,
        row_number() over (
            partition by qbo_side.private_note
            order by length(qbo_side.qbo_id), qbo_side.qbo_id, qbo_side.qbo_txn_type
        ) as marker_rank
    from qbo_side
    left join crosswalk
        on
            qbo_side.qbo_txn_type = crosswalk.qbo_txn_type
            and qbo_side.qbo_id = crosswalk.qbo_id
    where qbo_side.has_marker and crosswalk.qbo_id is null

),

links as (

    select
        ops_expenses.expense_id as ops_expense_id,
        ops_expenses.is_deleted,
        coalesce(crosswalk_found.qbo_txn_type, marked.qbo_txn_type) as qbo_txn_type,
        coalesce(crosswalk_found.qbo_id, marked.qbo_id) as qbo_id,
        case
            when crosswalk_found.qbo_id is not null then crosswalk.link_method
            when marked.qbo_id is not null then 'marker'
        end as link_method
    from ops_expenses
    left join crosswalk
        on ops_expenses.expense_id = crosswalk.ops_expense_id
    -- a crosswalk id QuickBooks does not show (deleted there) links nothing
    left join qbo_side as crosswalk_found
        on
            crosswalk.qbo_txn_type = crosswalk_found.qbo_txn_type
            and crosswalk.qbo_id = crosswalk_found.qbo_id
    left join marked
        on
            'fieldbooks:expense:' || ops_expenses.expense_id = marked.marker
            and marked.marker_rank = 1

),

-- a transaction claimed by several expenses stays with the strongest link, then a live one
claimed as (

    select
        links.*,
        row_number() over (
            partition by links.qbo_txn_type, links.qbo_id
            order by
                case links.link_method when 'crosswalk' then 1 when 'qbo_id' then 2 else 3 end,
                links.is_deleted,
                links.ops_expense_id
        ) as claim_rank
    from links

),

expense_links as (

    select
        ops_expense_id,
        case when claim_rank = 1 then qbo_txn_type end as qbo_txn_type,
        case when claim_rank = 1 then qbo_id end as qbo_id,
        case
            when qbo_id is null then null
            when claim_rank = 1 then link_method
            else 'duplicate_claim'
        end as link_method
    from claimed

),

ops_side as (

    select
        ops_expenses.expense_id as ops_expense_id,
        ops_expenses.is_deleted,
        expense_links.qbo_txn_type,
        expense_links.qbo_id,
        expense_links.link_method,
        expense_ledger.state as ledger_state,
        outbound.ops_expense_id is not null as is_outbound,
        outbound.action as outbound_action,
        outbound.waiting_on,
        ops_expenses.vendor_id as ops_vendor_id,
        ops_vendors.display_name as ops_vendor_name,
        ops_expenses.job_id as ops_job_id,
        ops_jobs.job_number,
        ops_expenses.expense_category,
        ops_expenses.paid_by,
        ops_expenses.reference,
        ops_expenses.expense_date,
        mapped.expense_account_id as mapped_account_id,
        mapped.customer_ref_id as mapped_customer_ref_id,
        case when not ops_expenses.is_deleted then ops_expenses.amount end as amount
    from ops_expenses
    inner join expense_links
        on ops_expenses.expense_id = expense_links.ops_expense_id
    left join expense_ledger
        on ops_expenses.expense_id = expense_ledger.ops_id
    left join outbound
        on ops_expenses.expense_id = outbound.ops_expense_id
    left join mapped
        on ops_expenses.expense_id = mapped.ops_expense_id
    left join ops_vendors
        on ops_expenses.vendor_id = ops_vendors.vendor_id
    left join ops_jobs
        on ops_expenses.job_id = ops_jobs.job_id
    where not ops_expenses.is_deleted or expense_links.qbo_id is not null

),

paired as (

    select
        ops_side.ops_expense_id,
        coalesce(ops_side.qbo_txn_type, qbo_side.qbo_txn_type) as qbo_txn_type,
        qbo_side.qbo_id,
        ops_side.link_method,
        coalesce(ops_side.is_deleted, false) as is_deleted_in_ops,
        coalesce(ops_side.is_outbound, false) as is_outbound,
        ops_side.outbound_action,
        ops_side.ledger_state,
        ops_side.waiting_on,
        qbo_side.has_marker,
        ops_side.ops_vendor_id,
        ops_side.ops_vendor_name,
        qbo_side.qbo_vendor_id,
        qbo_side.qbo_vendor_name,
        ops_side.ops_job_id,
        ops_side.job_number,
        ops_side.mapped_customer_ref_id,
        qbo_side.qbo_customer_ids,
        ops_side.expense_category,
        ops_side.mapped_account_id,
        qbo_side.qbo_account_ids,
        ops_side.paid_by,
        ops_side.reference,
        qbo_side.doc_number,
        ops_side.expense_date as ops_txn_date,
        qbo_side.txn_date as qbo_txn_date,
        ops_side.amount as ops_amount,
        qbo_side.amount as qbo_amount
    from ops_side
    full outer join qbo_side
        on
            ops_side.qbo_txn_type = qbo_side.qbo_txn_type
            and ops_side.qbo_id = qbo_side.qbo_id

),

compared as (

    select
        paired.*,
        cast(coalesce(paired.ops_amount, 0) - coalesce(paired.qbo_amount, 0) as numeric(18, 2)) as difference,
        -- compared where the mapping is known: an unmapped category, or a job not in
        -- QuickBooks yet, is the outbound set's waiting_on, not a difference
        (
            paired.mapped_account_id is null
            or coalesce(paired.qbo_account_ids, '') = paired.mapped_account_id
        ) as is_account_agreed,
        (
            paired.ops_expense_id is null
            or (paired.ops_job_id is not null and paired.mapped_customer_ref_id is null)
            or coalesce(paired.qbo_customer_ids, '') = coalesce(paired.mapped_customer_ref_id, '')
        ) as is_job_agreed
    from paired

),

final as (

    select
        case
            when ops_expense_id is not null then 'expense:' || ops_expense_id
            else lower(qbo_txn_type) || ':' || qbo_id
        end as expense_key,
        ops_expense_id,
        qbo_txn_type,
        qbo_id,
        link_method,
        ops_vendor_id,
        ops_vendor_name,
        qbo_vendor_id,
        qbo_vendor_name,
        ops_job_id,
        job_number,
        mapped_customer_ref_id,
        qbo_customer_ids,
        expense_category,
        mapped_account_id,
        qbo_account_ids,
        paid_by,
        reference,
        doc_number,
        ops_txn_date,
        qbo_txn_date,
        waiting_on,
        ops_amount,
        qbo_amount,
        difference,
        case
            when ops_expense_id is null and has_marker then 'missing_in_ops'
            when ops_expense_id is null then 'entered_in_quickbooks'
            when is_deleted_in_ops then 'deleted_in_ops_live_in_quickbooks'
            when qbo_id is null and (waiting_on is not null or ledger_state in ('pending', 'sent')) then 'pending'
            when qbo_id is null then 'missing_in_quickbooks'
            when difference = 0 and is_account_agreed and is_job_agreed then 'matched'
            -- operations changed it since the last push: the next push sends it
            when outbound_action = 'update' then 'pending'
            when difference <> 0 then 'amount_mismatch'
            when not is_account_agreed then 'account_mismatch'
            else 'job_mismatch'
        end as status
    from compared

)

select * from final
