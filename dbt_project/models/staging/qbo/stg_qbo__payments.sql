with

source as (

    select * from {{ source('raw_qbo', 'payment') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_payment_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'CustomerRef.value') }} as qbo_customer_id,
        {{ fb_json_text('payload', 'DepositToAccountRef.value') }} as deposit_to_qbo_account_id,
        {{ fb_json_text('payload', 'PaymentMethodRef.value') }} as qbo_payment_method_id,

        -- payment
        {{ fb_json_text('payload', 'PaymentRefNum') }} as payment_ref_num,
        {{ fb_json_text('payload', 'PrivateNote') }} as private_note,

        -- dates
        {{ fb_json_date('payload', 'TxnDate') }} as txn_date,

        -- amounts
        {{ fb_json_number('payload', 'TotalAmt') }} as total_amount,
        {{ fb_json_number('payload', 'UnappliedAmt') }} as unapplied_amount,

        -- timestamps
        last_updated_time as last_updated_at,
        _extracted_at as extracted_at,

        -- deletion; a void keeps the record with its amounts at zero and the note 'Voided'
        coalesce(deleted, false) as is_deleted,
        coalesce(
            {{ fb_json_text('payload', 'PrivateNote') }} = 'Voided'
            and {{ fb_json_number('payload', 'TotalAmt') }} = 0,
            false
        ) as is_voided

    from source

)

select * from renamed
