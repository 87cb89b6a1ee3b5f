with

source as (

    select * from {{ source('raw_ops', 'invoice_lines') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as invoice_line_id,
        cast(invoice_id as varchar) as invoice_id,
        cast(category_id as varchar) as category_id,
        cast(item_id as varchar) as item_id,
        cast(line_number as integer) as line_number,

        -- text
        description,

        -- amounts
        cast(quantity as numeric(18, 4)) as quantity,
        cast(unit_price as numeric(18, 2)) as unit_price,
        cast(amount as numeric(18, 2)) as amount,

        -- tax
        coalesce(taxable, false) as is_taxable,

        -- timestamps
        created_at,
        updated_at,
        deleted_at,
        _extracted_at as extracted_at,

        -- deletion
        (coalesce(_deleted, false) or deleted_at is not null) as is_deleted

    from source

)

select * from renamed
