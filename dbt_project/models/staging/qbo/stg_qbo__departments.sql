-- QuickBooks departments are what the screens call locations (the company may rename the label)
with

source as (

    select * from {{ source('raw_qbo', 'department') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_department_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'ParentRef.value') }} as parent_qbo_department_id,

        -- attributes
        {{ fb_json_text('payload', 'Name') }} as department_name,
        {{ fb_json_text('payload', 'FullyQualifiedName') }} as fully_qualified_name,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        coalesce({{ fb_json_bool('payload', 'SubDepartment') }}, false) as is_sub_department,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
