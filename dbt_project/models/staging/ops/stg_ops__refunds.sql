with

source as (

    select * from {{ source('raw_ops', 'refunds') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as refund_id,
        cast(customer_id as varchar) as customer_id,
        cast(payment_id as varchar) as payment_id,
        cast(credit_id as varchar) as credit_id,
        cast(qbo_id as varchar) as qbo_id,

        -- refund
        method as refund_method,
        refunded_on,
        reference,
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
