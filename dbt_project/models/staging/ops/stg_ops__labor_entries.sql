with

source as (

    select * from {{ source('raw_ops', 'labor_entries') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as labor_entry_id,
        cast(job_id as varchar) as job_id,
        cast(technician_id as varchar) as technician_id,

        -- work
        work_date,
        cast(hours as numeric(18, 4)) as hours,
        coalesce(billable, false) as is_billable,
        description,

        -- amounts
        cast(cost_rate as numeric(18, 2)) as cost_rate,
        cast(cost_amount as numeric(18, 2)) as cost_amount,

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
