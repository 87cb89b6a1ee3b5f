with

source as (

    select * from {{ source('raw_ops', 'jobs') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as job_id,
        job_number,
        cast(customer_id as varchar) as customer_id,
        cast(site_id as varchar) as site_id,
        cast(branch_id as varchar) as branch_id,
        cast(trade_id as varchar) as trade_id,
        cast(agreement_id as varchar) as agreement_id,
        cast(qbo_id as varchar) as qbo_id,

        -- job
        job_type,
        contract_type,
        status as job_status,
        description,

        -- flags
        coalesce(is_warranty, false) as is_warranty,
        coalesce(is_insurance_claim, false) as is_insurance_claim,
        insurance_claim_number,

        -- dates
        opened_on,
        scheduled_on,
        completed_on,

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
