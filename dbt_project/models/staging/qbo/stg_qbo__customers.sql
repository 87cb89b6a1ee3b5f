with

source as (

    select * from {{ source('raw_qbo', 'customer') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_customer_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'ParentRef.value') }} as parent_qbo_customer_id,

        -- names
        {{ fb_json_text('payload', 'DisplayName') }} as display_name,
        {{ fb_json_text('payload', 'GivenName') }} as given_name,
        {{ fb_json_text('payload', 'FamilyName') }} as family_name,
        {{ fb_json_text('payload', 'CompanyName') }} as company_name,
        {{ fb_json_text('payload', 'FullyQualifiedName') }} as fully_qualified_name,

        -- contact
        {{ fb_json_text('payload', 'PrimaryEmailAddr.Address') }} as email,
        {{ fb_json_text('payload', 'PrimaryPhone.FreeFormNumber') }} as phone,

        -- billing address
        {{ fb_json_text('payload', 'BillAddr.Line1') }} as bill_line1,
        {{ fb_json_text('payload', 'BillAddr.City') }} as bill_city,
        {{ fb_json_text('payload', 'BillAddr.CountrySubDivisionCode') }} as bill_state,
        {{ fb_json_text('payload', 'BillAddr.PostalCode') }} as bill_postal_code,
        {{ fb_json_text('payload', 'BillAddr.Country') }} as bill_country,

        -- flags
        {{ fb_json_bool('payload', 'Taxable') }} as is_taxable,
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        coalesce({{ fb_json_bool('payload', 'Job') }}, false) as is_job,

        -- amounts
        {{ fb_json_number('payload', 'Balance') }} as balance,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
