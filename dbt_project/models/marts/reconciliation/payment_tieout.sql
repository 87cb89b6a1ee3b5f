-- every payment on either side, operations against QuickBooks: amount, the invoices it
-- pays (each QuickBooks invoice and the amount applied to it) and its date.
-- ops side: live payments; QuickBooks side: live payments of the realm; paired through the
-- ledger, the ops qbo_id, else the payment's marker (int_payments_linked).
-- An application to an invoice QuickBooks does not have yet shows as 'ops:<invoice id>'.
-- A missing side counts as zero in the differences (ops minus QuickBooks).
with

ops_payments as (

    select * from {{ ref('stg_ops__payments') }}

),

ops_applications as (

    select * from {{ ref('stg_ops__payment_applications') }}

),

qbo_payments as (

    select * from {{ ref('stg_qbo__payments') }}

),

qbo_payment_lines as (

    select * from {{ ref('stg_qbo__payment_lines') }}

),

payment_links as (

    select * from {{ ref('int_payments_linked') }}

),

invoice_links as (

    select * from {{ ref('int_invoices_linked') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

payment_ledger as (

    select
        ops_id,
        state
    from ledger
    where entity = 'payment'

),

-- what each ops payment pays, per QuickBooks invoice
ops_applied as (

    select
        ops_applications.payment_id,
        coalesce(invoice_links.qbo_invoice_id, 'ops:' || ops_applications.invoice_id) as applied_invoice,
        sum(ops_applications.amount) as amount
    from ops_applications
    left join invoice_links
        on ops_applications.invoice_id = invoice_links.ops_invoice_id
    where not ops_applications.is_deleted
    group by
        ops_applications.payment_id,
        coalesce(invoice_links.qbo_invoice_id, 'ops:' || ops_applications.invoice_id)

),

ops_applied_rollups as (

    select
        payment_id,
        sum(amount) as applied_amount,
        string_agg(
            applied_invoice || '=' || cast(cast(amount as numeric(18, 2)) as varchar),
            ',' order by applied_invoice
        ) as applied_invoices
    from ops_applied
    group by payment_id

),

qbo_applied as (

    select
        qbo_payment_id,
        qbo_invoice_id as applied_invoice,
        sum(amount) as amount
    from qbo_payment_lines
    group by qbo_payment_id, qbo_invoice_id

),

qbo_applied_rollups as (

    select
        qbo_payment_id,
        sum(amount) as applied_amount,
        string_agg(
            applied_invoice || '=' || cast(cast(amount as numeric(18, 2)) as varchar),
            ',' order by applied_invoice
        ) as applied_invoices
    from qbo_applied
    group by qbo_payment_id

),

ops_side as (

    select
        ops_payments.payment_id as ops_payment_id,
        ops_payments.customer_id as ops_customer_id,
        payment_links.qbo_payment_id,
        payment_links.link_method,
        payment_ledger.state as ledger_state,
        ops_payments.amount,
        cast(coalesce(ops_applied_rollups.applied_amount, 0) as numeric(18, 2)) as applied_amount,
        ops_applied_rollups.applied_invoices,
        ops_payments.received_on as txn_date
    from ops_payments
    left join payment_links
        on ops_payments.payment_id = payment_links.ops_payment_id
    left join payment_ledger
        on ops_payments.payment_id = payment_ledger.ops_id
    left join ops_applied_rollups
        on ops_payments.payment_id = ops_applied_rollups.payment_id
    where not ops_payments.is_deleted

),

qbo_side as (

    select
        qbo_payments.qbo_payment_id,
        qbo_payments.qbo_customer_id,
        qbo_payments.total_amount as amount,
        cast(coalesce(qbo_applied_rollups.applied_amount, 0) as numeric(18, 2)) as applied_amount,
        qbo_applied_rollups.applied_invoices,
        qbo_payments.txn_date
    from qbo_payments
    left join qbo_applied_rollups
        on qbo_payments.qbo_payment_id = qbo_applied_rollups.qbo_payment_id
    where not qbo_payments.is_deleted

),

paired as (

    select
        ops_side.ops_payment_id,
        qbo_side.qbo_payment_id,
        ops_side.ops_customer_id,
        qbo_side.qbo_customer_id,
        ops_side.link_method,
        ops_side.ledger_state,
        ops_side.amount as ops_amount,
        qbo_side.amount as qbo_amount,
        ops_side.applied_amount as ops_applied_amount,
        qbo_side.applied_amount as qbo_applied_amount,
        ops_side.applied_invoices as ops_applied_invoices,
        qbo_side.applied_invoices as qbo_applied_invoices,
        ops_side.txn_date as ops_txn_date,
        qbo_side.txn_date as qbo_txn_date
    from ops_side
    full outer join qbo_side
        on ops_side.qbo_payment_id = qbo_side.qbo_payment_id

),

final as (

    select
        ops_payment_id,
        qbo_payment_id,
        ops_customer_id,
        qbo_customer_id,
        link_method,
        ops_amount,
        qbo_amount,
        cast(coalesce(ops_amount, 0) - coalesce(qbo_amount, 0) as numeric(18, 2)) as amount_difference,
        ops_applied_amount,
        qbo_applied_amount,
        cast(
            coalesce(ops_applied_amount, 0) - coalesce(qbo_applied_amount, 0) as numeric(18, 2)
        ) as applied_difference,
        ops_applied_invoices,
        qbo_applied_invoices,
        ops_txn_date,
        qbo_txn_date,
        case
            when qbo_payment_id is null and ledger_state in ('pending', 'sent') then 'pending'
            when qbo_payment_id is null then 'missing_in_quickbooks'
            when ops_payment_id is null then 'missing_in_ops'
            when coalesce(ops_amount <> qbo_amount, true) then 'amount_mismatch'
            when coalesce(ops_applied_invoices, '') <> coalesce(qbo_applied_invoices, '') then 'application_mismatch'
            when coalesce(ops_txn_date <> qbo_txn_date, true) then 'date_mismatch'
            else 'matched'
        end as status
    from paired

)

select * from final
