with

source as (

    select * from {{ source('raw_ops', 'expenses') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as expense_id,
        cast(vendor_id as varchar) as vendor_id,
        cast(job_id as varchar) as job_id,
        cast(branch_id as varchar) as branch_id,
        cast(qbo_id as varchar) as qbo_id,

        -- expense
        category as expense_category,
        paid_by,
        reference,
        description,
        coalesce(billable, false) as is_billable,

        -- amounts
        cast(amount as numeric(18, 2)) as amount,

        -- dates
        expense_date,
        due_date,

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
