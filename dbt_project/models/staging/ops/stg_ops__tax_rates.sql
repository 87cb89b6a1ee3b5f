with

source as (

    select * from {{ source('raw_ops', 'tax_rates') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as tax_rate_id,

        -- attributes
        jurisdiction as tax_jurisdiction,
        name as tax_rate_name,

        -- rates
        cast(rate as numeric(9, 6)) as tax_rate,

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
