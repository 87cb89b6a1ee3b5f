-- QuickBooks Purchases of the realm: expenses paid at once (cash, check, credit card)
with

source as (

    select * from {{ source('raw_qbo', 'purchase') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_purchase_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'EntityRef.value') }} as qbo_entity_id,
        {{ fb_json_text('payload', 'EntityRef.type') }} as entity_type,
        {{ fb_json_text('payload', 'AccountRef.value') }} as qbo_payment_account_id,
        {{ fb_json_text('payload', 'DepartmentRef.value') }} as qbo_department_id,
        {{ fb_json_text('payload', 'DocNumber') }} as doc_number,

        -- purchase
        {{ fb_json_text('payload', 'PaymentType') }} as payment_type,

        -- dates
        {{ fb_json_date('payload', 'TxnDate') }} as txn_date,

        -- amounts
        {{ fb_json_number('payload', 'TotalAmt') }} as total_amount,

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
