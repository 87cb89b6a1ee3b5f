with

source as (

    select * from {{ source('raw_ops', 'branches') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as branch_id,
        cast(qbo_id as varchar) as qbo_id,

        -- attributes
        code as branch_code,
        name as branch_name,
        phone,
        tax_jurisdiction,

        -- address
        line1,
        city,
        state,
        postal_code,

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
