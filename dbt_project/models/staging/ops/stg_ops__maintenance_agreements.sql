with

source as (

    select * from {{ source('raw_ops', 'maintenance_agreements') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as agreement_id,
        agreement_number,
        cast(customer_id as varchar) as customer_id,
        cast(site_id as varchar) as site_id,
        cast(trade_id as varchar) as trade_id,

        -- terms
        plan_name,
        cast(term_months as integer) as term_months,
        cast(visits_per_term as integer) as visits_per_term,
        status as agreement_status,

        -- amounts
        cast(price as numeric(18, 2)) as price,

        -- dates
        starts_on,
        ends_on,

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
