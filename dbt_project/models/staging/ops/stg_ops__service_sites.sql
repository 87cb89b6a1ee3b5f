with

source as (

    select * from {{ source('raw_ops', 'service_sites') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as site_id,
        cast(customer_id as varchar) as customer_id,

        -- attributes
        name as site_name,
        tax_jurisdiction,
        access_notes,

        -- address
        line1,
        city,
        state,
        postal_code,
        country,

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
