-- live operations invoice lines with the QuickBooks item their service category maps to
-- (map_service_categories); qbo_item_id stays null when the category has no mapping row
with

invoice_lines as (

    select * from {{ ref('stg_ops__invoice_lines') }}

),

categories as (

    select * from {{ ref('stg_ops__service_categories') }}

),

category_map as (

    -- a proposal `fieldbooks mapping suggest` wrote is used once a person reviewed it
    select * from {{ ref('map_service_categories') }}
    where reviewed

),

mapped as (

    select
        invoice_lines.invoice_line_id as ops_line_id,
        invoice_lines.invoice_id as ops_invoice_id,
        invoice_lines.line_number,
        invoice_lines.category_id,
        coalesce(categories.category_name, category_map.category_name) as category_name,
        category_map.qbo_item_id,
        category_map.qbo_item_name,
        category_map.qbo_item_id is not null as is_mapped,
        invoice_lines.description,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.amount,
        invoice_lines.is_taxable,
        case when invoice_lines.is_taxable then 'TAX' else 'NON' end as tax_code
    from invoice_lines
    left join categories
        on invoice_lines.category_id = categories.category_id
    left join category_map
        on invoice_lines.category_id = category_map.category_id
    where not invoice_lines.is_deleted

)

select * from mapped
