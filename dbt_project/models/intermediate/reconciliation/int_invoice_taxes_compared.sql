-- a table, not ephemeral: read by the invoice tie-out, sales tax and six tests (PostgreSQL misplans the inlined CTEs)
{{ config(materialized='table') }}

-- the sales tax of each operations invoice against its QuickBooks invoice, and whether a
-- difference is QuickBooks' rounding: QuickBooks rounds tax once on the invoice's taxable
-- subtotal (half up, to the cent); operations may have rounded each taxable line. A
-- difference is a rounding difference only when all of these hold:
--   - it is exactly one cent, and both sides tax the same taxable subtotal;
--   - QuickBooks' figure is the taxable subtotal x the rate, rounded once;
--   - the operations figure is the sum of the taxable lines x the rate, each rounded,
--     and that differs from rounding once.
-- One row per live operations invoice (neither draft nor void) linked to a live QuickBooks one.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

ops_lines as (

    select * from {{ ref('stg_ops__invoice_lines') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

qbo_lines as (

    select * from {{ ref('stg_qbo__invoice_lines') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

ops_line_taxes as (

    select
        ops_lines.invoice_id,
        sum(case when ops_lines.is_taxable then ops_lines.amount else 0 end) as taxable_amount,
        sum(
            case
                when ops_lines.is_taxable
                    then round(ops_lines.amount * ops_invoices.tax_rate, 2)
                else 0
            end
        ) as tax_rounded_per_line
    from ops_lines
    inner join ops_invoices
        on ops_lines.invoice_id = ops_invoices.invoice_id
    where not ops_lines.is_deleted
    group by ops_lines.invoice_id

),

qbo_line_taxes as (

    select
        qbo_invoice_id,
        sum(case when tax_code = 'TAX' then amount else 0 end) as taxable_amount
    from qbo_lines
    where not is_deleted
    group by qbo_invoice_id

),

paired as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        qbo_invoices.qbo_invoice_id,
        ops_invoices.tax_rate,
        cast(coalesce(ops_line_taxes.taxable_amount, 0) as numeric(18, 2)) as ops_taxable_amount,
        cast(coalesce(qbo_line_taxes.taxable_amount, 0) as numeric(18, 2)) as qbo_taxable_amount,
        cast(coalesce(ops_invoices.tax, 0) as numeric(18, 2)) as ops_tax,
        cast(coalesce(qbo_invoices.total_tax, 0) as numeric(18, 2)) as qbo_tax,
        cast(coalesce(ops_line_taxes.tax_rounded_per_line, 0) as numeric(18, 2)) as ops_tax_rounded_per_line,
        cast(
            round(coalesce(ops_line_taxes.taxable_amount, 0) * coalesce(ops_invoices.tax_rate, 0), 2)
            as numeric(18, 2)
        ) as ops_tax_rounded_per_invoice,
        cast(
            round(coalesce(qbo_line_taxes.taxable_amount, 0) * coalesce(ops_invoices.tax_rate, 0), 2)
            as numeric(18, 2)
        ) as qbo_tax_rounded_per_invoice
    from ops_invoices
    inner join links
        on ops_invoices.invoice_id = links.ops_invoice_id
    inner join qbo_invoices
        on links.qbo_invoice_id = qbo_invoices.qbo_invoice_id
    left join ops_line_taxes
        on ops_invoices.invoice_id = ops_line_taxes.invoice_id
    left join qbo_line_taxes
        on qbo_invoices.qbo_invoice_id = qbo_line_taxes.qbo_invoice_id
    where
        not ops_invoices.is_deleted
        and ops_invoices.status not in ('draft', 'void')
        and not qbo_invoices.is_deleted

),

final as (

    select
        ops_invoice_id,
        qbo_invoice_id,
        tax_rate,
        ops_taxable_amount,
        qbo_taxable_amount,
        ops_tax,
        qbo_tax,
        cast(ops_tax - qbo_tax as numeric(18, 2)) as tax_difference,
        ops_tax_rounded_per_line,
        ops_tax_rounded_per_invoice,
        (
            abs(ops_tax - qbo_tax) = 0.01
            and ops_taxable_amount = qbo_taxable_amount
            and qbo_tax = qbo_tax_rounded_per_invoice
            and ops_tax = ops_tax_rounded_per_line
            and ops_tax_rounded_per_line <> ops_tax_rounded_per_invoice
        ) as is_rounding_difference
    from paired

)

select * from final
