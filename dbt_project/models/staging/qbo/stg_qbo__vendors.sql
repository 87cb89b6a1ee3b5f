with

source as (

    select * from {{ source('raw_qbo', 'vendor') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_vendor_id,
        realm_id,
        sync_token,

        -- names
        {{ fb_json_text('payload', 'DisplayName') }} as display_name,
        {{ fb_json_text('payload', 'GivenName') }} as given_name,
        {{ fb_json_text('payload', 'FamilyName') }} as family_name,
        {{ fb_json_text('payload', 'CompanyName') }} as company_name,
        {{ fb_json_text('payload', 'PrintOnCheckName') }} as print_on_check_name,

        -- contact
        {{ fb_json_text('payload', 'PrimaryEmailAddr.Address') }} as email,
        {{ fb_json_text('payload', 'PrimaryPhone.FreeFormNumber') }} as phone,

        -- billing address
        {{ fb_json_text('payload', 'BillAddr.Line1') }} as bill_line1,
        {{ fb_json_text('payload', 'BillAddr.City') }} as bill_city,
        {{ fb_json_text('payload', 'BillAddr.CountrySubDivisionCode') }} as bill_state,
        {{ fb_json_text('payload', 'BillAddr.PostalCode') }} as bill_postal_code,
        {{ fb_json_text('payload', 'BillAddr.Country') }} as bill_country,

        -- terms
        {{ fb_json_text('payload', 'TermRef.value') }} as qbo_term_id,
        {{ fb_json_text('payload', 'AcctNum') }} as account_number,

        -- flags
        coalesce({{ fb_json_bool('payload', 'Active') }}, true) as is_active,
        coalesce({{ fb_json_bool('payload', 'Vendor1099') }}, false) as is_1099,

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
