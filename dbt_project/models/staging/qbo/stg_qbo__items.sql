with

source as (

    select * from {{ source('raw_qbo', 'item') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_item_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'IncomeAccountRef.value') }} as income_qbo_account_id,
        {{ fb_json_text('payload', 'ExpenseAccountRef.value') }} as expense_qbo_account_id,

        -- attributes
        {{ fb_json_text('payload', 'Name') }} as item_name,
        {{ fb_json_text('payload', 'FullyQualifiedName') }} as fully_qualified_name,
        {{ fb_json_text('payload', 'Type') }} as item_type,
        {{ fb_json_text('payload', 'Description') }} as description,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        {{ fb_json_bool('payload', 'Taxable') }} as is_taxable,

        -- amounts
        {{ fb_json_number('payload', 'UnitPrice') }} as unit_price,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
