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
        cast(job_id as varchar) as job_id,
        cast(qbo_id as varchar) as qbo_id,

        -- status
        status,
        sent_at,
        coalesce(reminders_enabled, true) as is_reminders_enabled,

        -- dates and terms
        issue_date,
        due_date,
        terms,

        -- tax
        tax_jurisdiction,
        cast(tax_rate as numeric(9, 6)) as tax_rate,

        -- amounts
        cast(subtotal as numeric(18, 2)) as subtotal,
        cast(tax as numeric(18, 2)) as tax,
        cast(total as numeric(18, 2)) as total,
        cast(balance as numeric(18, 2)) as balance,

        -- progress billing
        cast(progress_sequence as integer) as progress_sequence,
        cast(retainage_percent as numeric(5, 2)) as retainage_percent,

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
