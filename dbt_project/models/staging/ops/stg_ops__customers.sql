with

source as (

    select * from {{ source('raw_ops', 'customers') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as customer_id,
        cast(qbo_id as varchar) as qbo_id,

        -- names
        kind as customer_kind,
        display_name,
        given_name,
        family_name,
        company_name,

        -- contact
        email,
        phone,

        -- billing address
        bill_line1,
        bill_city,
        bill_state,
        bill_postal_code,
        bill_country,

        -- tax
        coalesce(tax_exempt, false) as is_tax_exempt,
        tax_exempt_reason,

        -- status
        status as customer_status,

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
