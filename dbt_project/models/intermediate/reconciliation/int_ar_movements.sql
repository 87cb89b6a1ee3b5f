-- every change to accounts receivable on either side, dated: one row per invoice (its
-- total, on its date), per payment applied to it (on the payment's date) and per credit
-- applied to it (operations, on the credit's date). Summed up to a day, it gives the open
-- balance that day; summed over all days, each side's open balances today.
-- QuickBooks reductions that are not payments (credit memos, which are not staged yet)
-- are taken as total - balance - payments, dated the day QuickBooks last changed the invoice.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

ops_payments as (

    select * from {{ ref('stg_ops__payments') }}

),

ops_applications as (

    select * from {{ ref('stg_ops__payment_applications') }}

),

ops_credits as (

    select * from {{ ref('stg_ops__credits') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

qbo_payments as (

    select * from {{ ref('stg_qbo__payments') }}

),

qbo_payment_lines as (

    select * from {{ ref('stg_qbo__payment_lines') }}

),

-- the invoices that count: live, neither draft nor void (as in invoice_tieout)
open_ops_invoices as (

    select
        invoice_id,
        issue_date,
        total
    from ops_invoices
    where not is_deleted and status not in ('draft', 'void')

),

live_qbo_invoices as (

    select
        qbo_invoice_id,
        txn_date,
        total_amount,
        balance,
        last_updated_at
    from qbo_invoices
    where not is_deleted

),

ops_invoiced as (

    select
        'ops' as side,
        'invoice' as entity,
        invoice_id as record_id,
        issue_date as movement_date,
        total as amount
    from open_ops_invoices

),

ops_paid as (

    select
        'ops' as side,
        'payment_application' as entity,
        ops_applications.payment_application_id as record_id,
        ops_payments.received_on as movement_date,
        -ops_applications.amount as amount
    from ops_applications
    inner join ops_payments
        on ops_applications.payment_id = ops_payments.payment_id
    inner join open_ops_invoices
        on ops_applications.invoice_id = open_ops_invoices.invoice_id
    where not ops_applications.is_deleted and not ops_payments.is_deleted

),

ops_credited as (

    select
        'ops' as side,
        'credit' as entity,
        ops_credits.credit_id as record_id,
        ops_credits.issued_on as movement_date,
        -ops_credits.amount as amount
    from ops_credits
    inner join open_ops_invoices
        on ops_credits.invoice_id = open_ops_invoices.invoice_id
    where not ops_credits.is_deleted

),

qbo_invoiced as (

    select
        'qbo' as side,
        'invoice' as entity,
        qbo_invoice_id as record_id,
        txn_date as movement_date,
        total_amount as amount
    from live_qbo_invoices

),

qbo_payment_applications as (

    select
        qbo_payment_lines.qbo_payment_id,
        qbo_payment_lines.line_index,
        qbo_payment_lines.linked_txn_index,
        qbo_payment_lines.qbo_invoice_id,
        qbo_payment_lines.amount,
        qbo_payments.txn_date
    from qbo_payment_lines
    inner join qbo_payments
        on qbo_payment_lines.qbo_payment_id = qbo_payments.qbo_payment_id
    inner join live_qbo_invoices
        on qbo_payment_lines.qbo_invoice_id = live_qbo_invoices.qbo_invoice_id
    where not qbo_payments.is_deleted

),

qbo_paid as (

    select
        'qbo' as side,
        'payment_line' as entity,
        concat_ws(':', qbo_payment_id, cast(line_index as varchar), cast(linked_txn_index as varchar)) as record_id,
        txn_date as movement_date,
        -amount as amount
    from qbo_payment_applications

),

qbo_paid_per_invoice as (

    select
        qbo_invoice_id,
        sum(amount) as paid_amount
    from qbo_payment_applications
    group by qbo_invoice_id

),

qbo_other_reductions as (

    select
        'qbo' as side,
        'other_reduction' as entity,
        live_qbo_invoices.qbo_invoice_id as record_id,
        cast(live_qbo_invoices.last_updated_at as date) as movement_date,
        live_qbo_invoices.balance - live_qbo_invoices.total_amount
        + coalesce(qbo_paid_per_invoice.paid_amount, 0) as amount
    from live_qbo_invoices
    left join qbo_paid_per_invoice
        on live_qbo_invoices.qbo_invoice_id = qbo_paid_per_invoice.qbo_invoice_id
    where
        live_qbo_invoices.balance - live_qbo_invoices.total_amount
        + coalesce(qbo_paid_per_invoice.paid_amount, 0) <> 0

),

movements as (

    select * from ops_invoiced
    union all
    select * from ops_paid
    union all
    select * from ops_credited
    union all
    select * from qbo_invoiced
    union all
    select * from qbo_paid
    union all
    select * from qbo_other_reductions

),

final as (

    select
        '{{ var("realm_id") }}' as realm_id,
        side,
        entity,
        record_id,
        cast(movement_date as date) as movement_date,
        cast(amount as numeric(18, 2)) as amount
    from movements
    where movement_date is not null

)

select * from final
