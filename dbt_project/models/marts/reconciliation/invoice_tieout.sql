-- every invoice on either side, operations against QuickBooks, to the cent.
-- ops side: live invoices that are neither draft nor void; QuickBooks side: live invoices
-- of the realm; paired through the ledger, the ops qbo_id, else the DocNumber.
-- A missing side counts as zero in the differences.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

ops_side as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        ops_invoices.invoice_number,
        links.qbo_invoice_id,
        ops_invoices.total,
        ops_invoices.balance
    from ops_invoices
    left join links
        on ops_invoices.invoice_id = links.ops_invoice_id
    where
        not ops_invoices.is_deleted
        and ops_invoices.status not in ('draft', 'void')

),

qbo_side as (

    select
        qbo_invoice_id,
        doc_number,
        total_amount,
        balance
    from qbo_invoices
    where not is_deleted

),

paired as (

    select
        ops_side.ops_invoice_id,
        ops_side.invoice_number,
        qbo_side.qbo_invoice_id,
        qbo_side.doc_number,
        ops_side.total as ops_total,
        qbo_side.total_amount as qbo_total,
        ops_side.balance as ops_balance,
        qbo_side.balance as qbo_balance
    from ops_side
    full outer join qbo_side
        on ops_side.qbo_invoice_id = qbo_side.qbo_invoice_id

),

final as (

    select
        ops_invoice_id,
        invoice_number,
        qbo_invoice_id,
        doc_number,
        ops_total,
        qbo_total,
        ops_balance,
        qbo_balance,
        cast(coalesce(ops_total, 0) - coalesce(qbo_total, 0) as numeric(18, 2)) as total_difference,
        cast(coalesce(ops_balance, 0) - coalesce(qbo_balance, 0) as numeric(18, 2)) as balance_difference,
        case
            when qbo_invoice_id is null then 'missing_in_quickbooks'
            when ops_invoice_id is null then 'missing_in_ops'
            when
                ops_total = qbo_total and ops_balance = qbo_balance
                then 'matched'
            else 'amount_mismatch'
        end as status
    from paired

)

select * from final
