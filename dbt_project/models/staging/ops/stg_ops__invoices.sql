with

source as (

    select * from {{ source('raw_ops', 'invoices') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as invoice_id,
        invoice_number,
        cast(customer_id as varchar) as customer_id,
        cast(qbo_id as varchar) as qbo_id,

        -- status
        status,

        -- dates
        issue_date,
        due_date,

        -- tax
        tax_jurisdiction,
        cast(tax_rate as numeric(7, 4)) as tax_rate,

        -- amounts
        cast(subtotal as numeric(18, 2)) as subtotal,
        cast(tax as numeric(18, 2)) as tax,
        cast(total as numeric(18, 2)) as total,
        cast(balance as numeric(18, 2)) as balance,

        -- text
        memo,

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
