with

source as (

    select * from {{ source('raw_ops', 'price_book_items') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as item_id,
        cast(category_id as varchar) as category_id,
        cast(trade_id as varchar) as trade_id,
        cast(qbo_id as varchar) as qbo_id,

        -- attributes
        sku,
        name as item_name,
        description,
        unit,
        coalesce(taxable, false) as is_taxable,
        coalesce(active, true) as is_active,

        -- amounts
        cast(unit_price as numeric(18, 2)) as unit_price,
        cast(unit_cost as numeric(18, 2)) as unit_cost,

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
