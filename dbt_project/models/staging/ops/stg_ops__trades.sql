with

source as (

    select * from {{ source('raw_ops', 'trades') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as trade_id,
        cast(qbo_id as varchar) as qbo_id,

        -- attributes
        code as trade_code,
        name as trade_name,

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
