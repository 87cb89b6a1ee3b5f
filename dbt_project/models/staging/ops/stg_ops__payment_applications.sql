with

source as (

    select * from {{ source('raw_ops', 'payment_applications') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as payment_application_id,
        cast(payment_id as varchar) as payment_id,
        cast(invoice_id as varchar) as invoice_id,

        -- amounts
        cast(amount as numeric(18, 2)) as amount,

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
