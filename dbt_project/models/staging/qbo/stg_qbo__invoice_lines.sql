-- the item lines of QuickBooks invoices: one row per SalesItemLineDetail line
-- (the SubTotalLineDetail line QuickBooks adds to every response is left out)
with

source as (

    select * from {{ source('raw_qbo', 'invoice') }}
    where realm_id = '{{ var("realm_id") }}'

),

lines as (

    select
        source.id,
        source.deleted,
        invoice_lines.line,
        invoice_lines.line_index
    from source
    {{ fb_json_array_rows('source.payload', 'Line', 'invoice_lines', 'line', 'line_index') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_invoice_id,
        cast(line_index as integer) as line_index,
        {{ fb_json_text('line', 'Id') }} as qbo_line_id,
        cast({{ fb_json_text('line', 'LineNum') }} as integer) as line_num,
        {{ fb_json_text('line', 'SalesItemLineDetail.ItemRef.value') }} as qbo_item_id,
        {{ fb_json_text('line', 'SalesItemLineDetail.ItemRef.name') }} as item_name,
        {{ fb_json_text('line', 'SalesItemLineDetail.ClassRef.value') }} as qbo_class_id,

        -- line
        {{ fb_json_text('line', 'DetailType') }} as detail_type,
        {{ fb_json_text('line', 'Description') }} as description,
        {{ fb_json_number('line', 'SalesItemLineDetail.Qty', 'numeric(18, 4)') }} as quantity,
        {{ fb_json_number('line', 'SalesItemLineDetail.UnitPrice') }} as unit_price,

        -- amounts
        {{ fb_json_number('line', 'Amount') }} as amount,

        -- tax: the pseudo-codes TAX / NON
        {{ fb_json_text('line', 'SalesItemLineDetail.TaxCodeRef.value') }} as tax_code,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from lines

)

select * from renamed
where detail_type = 'SalesItemLineDetail'
