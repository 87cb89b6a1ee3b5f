with

source as (

    select * from {{ source('raw_ops', 'payments') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as payment_id,
        cast(customer_id as varchar) as customer_id,
        cast(qbo_id as varchar) as qbo_id,

        -- payment
        method as payment_method,
        reference,
        -- ops: taken in the field or the office; quickbooks: recorded by the bookkeeper
        source as payment_source,

        -- amounts
        cast(amount as numeric(18, 2)) as amount,

        -- dates
        received_on,
        received_at,

        -- deposit
        coalesce(deposited, false) as is_deposited,
        deposited_on,

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
