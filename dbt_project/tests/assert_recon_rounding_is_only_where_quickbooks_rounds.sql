-- a matched_rounding invoice is one int_invoice_taxes_compared found to be QuickBooks'
-- once-per-invoice rounding against operations' per-line rounding, one cent and nothing
-- else; and such an invoice is never called plain matched
with

invoice_tieout as (

    select * from {{ ref('invoice_tieout') }}

),

taxes as (

    select * from {{ ref('int_invoice_taxes_compared') }}

)

select
    invoice_tieout.ops_invoice_id,
    invoice_tieout.status,
    invoice_tieout.tax_difference
from invoice_tieout
left join taxes
    on invoice_tieout.ops_invoice_id = taxes.ops_invoice_id
where
    (
        invoice_tieout.status = 'matched_rounding'
        and not (
            coalesce(taxes.is_rounding_difference, false)
            and abs(invoice_tieout.tax_difference) = 0.01
            and invoice_tieout.total_difference = invoice_tieout.tax_difference
        )
    )
    or (invoice_tieout.status = 'matched' and invoice_tieout.tax_difference <> 0)
