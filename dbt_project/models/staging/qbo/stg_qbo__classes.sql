with

source as (

    select * from {{ source('raw_qbo', 'class') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_class_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'ParentRef.value') }} as parent_qbo_class_id,

        -- attributes
        {{ fb_json_text('payload', 'Name') }} as class_name,
        {{ fb_json_text('payload', 'FullyQualifiedName') }} as fully_qualified_name,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        coalesce({{ fb_json_bool('payload', 'SubClass') }}, false) as is_sub_class,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
