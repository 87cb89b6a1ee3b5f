with

source as (

    select * from {{ source('raw_ops', 'vendors') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as vendor_id,
        cast(qbo_id as varchar) as qbo_id,

        -- names
        display_name,
        company_name,
        vendor_type,

        -- contact
        email,
        phone,

        -- address
        line1,
        city,
        state,
        postal_code,

        -- terms
        coalesce(is_1099, false) as is_1099,
        terms,
        coalesce(active, true) as is_active,

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
