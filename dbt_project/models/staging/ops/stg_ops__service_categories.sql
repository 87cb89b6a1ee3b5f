with

source as (

    select * from {{ source('raw_ops', 'service_categories') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as category_id,

        -- attributes
        name as category_name,
        kind as category_kind,
        coalesce(taxable, false) as is_taxable,

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
