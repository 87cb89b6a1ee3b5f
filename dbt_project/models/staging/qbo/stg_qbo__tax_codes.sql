with

source as (

    select * from {{ source('raw_qbo', 'taxcode') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_tax_code_id,
        realm_id,
        sync_token,

        -- attributes
        {{ fb_json_text('payload', 'Name') }} as tax_code_name,
        {{ fb_json_text('payload', 'Description') }} as description,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        {{ fb_json_bool('payload', 'Taxable') }} as is_taxable,
        {{ fb_json_bool('payload', 'TaxGroup') }} as is_tax_group,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
