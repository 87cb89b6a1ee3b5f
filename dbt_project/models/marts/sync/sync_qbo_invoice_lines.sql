-- the lines of the invoices in sync_qbo_invoices, in the order QuickBooks gets them
with

invoices as (

    select * from {{ ref('sync_qbo_invoices') }}

),

lines as (

    select * from {{ ref('int_invoice_lines_mapped') }}

),

final as (

    select
        lines.ops_invoice_id,
        lines.ops_line_id,
        lines.line_number,
        lines.category_id,
        lines.category_name,
        lines.qbo_item_id,
        lines.description,
        cast(lines.quantity as numeric(18, 4)) as quantity,
        cast(lines.unit_price as numeric(18, 2)) as unit_price,
        cast(lines.amount as numeric(18, 2)) as amount,
        lines.tax_code
    from lines
    inner join invoices
        on lines.ops_invoice_id = invoices.ops_invoice_id

)

select * from final
