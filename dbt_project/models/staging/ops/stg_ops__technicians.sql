with

source as (

    select * from {{ source('raw_ops', 'technicians') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as technician_id,
        cast(branch_id as varchar) as branch_id,
        cast(trade_id as varchar) as trade_id,
        cast(qbo_id as varchar) as qbo_id,

        -- names
        given_name,
        family_name,

        -- contact
        email,
        phone,

        -- cost
        cast(cost_rate as numeric(18, 2)) as cost_rate,

        -- employment
        hired_on,
        coalesce(active, true) as is_active,

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
