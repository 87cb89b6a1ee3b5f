-- QuickBooks Bills of the realm: expenses on account (accounts payable)
with

source as (

    select * from {{ source('raw_qbo', 'bill') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_bill_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'VendorRef.value') }} as qbo_vendor_id,
        {{ fb_json_text('payload', 'APAccountRef.value') }} as qbo_ap_account_id,
        {{ fb_json_text('payload', 'DepartmentRef.value') }} as qbo_department_id,
        {{ fb_json_text('payload', 'DocNumber') }} as doc_number,

        -- dates
        {{ fb_json_date('payload', 'TxnDate') }} as txn_date,
        {{ fb_json_date('payload', 'DueDate') }} as due_date,

        -- amounts
        {{ fb_json_number('payload', 'TotalAmt') }} as total_amount,
        {{ fb_json_number('payload', 'Balance') }} as balance,

        -- text
        {{ fb_json_text('payload', 'PrivateNote') }} as private_note,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from source

)

select * from renamed
