with

source as (

    select * from {{ source('raw_qbo', 'account') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_account_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'ParentRef.value') }} as parent_qbo_account_id,

        -- attributes
        {{ fb_json_text('payload', 'Name') }} as account_name,
        {{ fb_json_text('payload', 'FullyQualifiedName') }} as fully_qualified_name,
        {{ fb_json_text('payload', 'AcctNum') }} as account_number,
        {{ fb_json_text('payload', 'AccountType') }} as account_type,
        {{ fb_json_text('payload', 'AccountSubType') }} as account_sub_type,
        {{ fb_json_text('payload', 'Classification') }} as classification,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,

        -- amounts
        {{ fb_json_number('payload', 'CurrentBalance') }} as current_balance,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
