-- every invoice on either side, operations against QuickBooks, to the cent.
-- ops side: live invoices that are neither draft nor void; QuickBooks side: live invoices
-- of the realm; paired through the ledger, the ops qbo_id, else the DocNumber.
-- A missing side counts as zero in the differences.
-- Tax is compared on its own (int_invoice_taxes_compared): a one-cent difference that is
-- QuickBooks rounding once per invoice where operations rounded per line is
-- matched_rounding when the total and balance differ by that cent and nothing else;
-- any other tax difference is tax_mismatch. An invoice fieldbooks is pushing (ledger
-- pending or sent) that QuickBooks does not show yet is pending.
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

taxes as (

    select * from {{ ref('int_invoice_taxes_compared') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

invoice_ledger as (

    select
        ops_id,
        state
    from ledger
    where entity = 'invoice'

),

ops_side as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        ops_invoices.invoice_number,
        links.qbo_invoice_id,
        invoice_ledger.state as ledger_state,
        ops_invoices.tax,
        ops_invoices.total,
        ops_invoices.balance
    from ops_invoices
    left join links
        on ops_invoices.invoice_id = links.ops_invoice_id
    left join invoice_ledger
        on ops_invoices.invoice_id = invoice_ledger.ops_id
    where
        not ops_invoices.is_deleted
        and ops_invoices.status not in ('draft', 'void')

),

qbo_side as (

    select
        qbo_invoice_id,
        doc_number,
        total_tax,
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
        ops_side.ledger_state,
        ops_side.tax as ops_tax,
        qbo_side.total_tax as qbo_tax,
        ops_side.total as ops_total,
        qbo_side.total_amount as qbo_total,
        ops_side.balance as ops_balance,
        qbo_side.balance as qbo_balance
    from ops_side
    full outer join qbo_side
        on ops_side.qbo_invoice_id = qbo_side.qbo_invoice_id

),

differences as (

    select
        paired.*,
        coalesce(taxes.is_rounding_difference, false) as is_rounding_difference,
        cast(coalesce(paired.ops_tax, 0) - coalesce(paired.qbo_tax, 0) as numeric(18, 2)) as tax_difference,
        cast(coalesce(paired.ops_total, 0) - coalesce(paired.qbo_total, 0) as numeric(18, 2)) as total_difference,
        cast(
            coalesce(paired.ops_balance, 0) - coalesce(paired.qbo_balance, 0) as numeric(18, 2)
        ) as balance_difference
    from paired
    left join taxes
        on paired.ops_invoice_id = taxes.ops_invoice_id

),

final as (

    select
        ops_invoice_id,
        invoice_number,
        qbo_invoice_id,
        doc_number,
        ops_tax,
        qbo_tax,
        tax_difference,
        ops_total,
        qbo_total,
        ops_balance,
        qbo_balance,
        total_difference,
        balance_difference,
        case
            when qbo_invoice_id is null and ledger_state in ('pending', 'sent') then 'pending'
            when qbo_invoice_id is null then 'missing_in_quickbooks'
            when ops_invoice_id is null then 'missing_in_ops'
            when
                tax_difference = 0 and total_difference = 0 and balance_difference = 0
                then 'matched'
            when
                is_rounding_difference
                and total_difference = tax_difference
                and balance_difference in (0, tax_difference)
                then 'matched_rounding'
            when tax_difference <> 0 then 'tax_mismatch'
            else 'amount_mismatch'
        end as status
    from differences

)

select * from final
