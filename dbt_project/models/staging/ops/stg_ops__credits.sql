with

source as (

    select * from {{ source('raw_ops', 'credits') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as credit_id,
        credit_number,
        cast(customer_id as varchar) as customer_id,
        cast(invoice_id as varchar) as invoice_id,
        cast(qbo_id as varchar) as qbo_id,

        -- credit
        issued_on,
        reason,

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
