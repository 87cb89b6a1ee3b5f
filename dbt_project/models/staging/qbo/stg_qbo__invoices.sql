with

source as (

    select * from {{ source('raw_qbo', 'invoice') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_invoice_id,
        realm_id,
        sync_token,
        {{ fb_json_text('payload', 'CustomerRef.value') }} as qbo_customer_id,
        {{ fb_json_text('payload', 'DocNumber') }} as doc_number,

        -- dates
        {{ fb_json_date('payload', 'TxnDate') }} as txn_date,
        {{ fb_json_date('payload', 'DueDate') }} as due_date,

        -- tax
        {{ fb_json_text('payload', 'TxnTaxDetail.TxnTaxCodeRef.value') }} as qbo_tax_code_id,

        -- amounts
        {{ fb_json_number('payload', 'TxnTaxDetail.TotalTax') }} as total_tax,
        {{ fb_json_number('payload', 'TotalAmt') }} as total_amount,
        {{ fb_json_number('payload', 'Balance') }} as balance,

        -- text
        {{ fb_json_text('payload', 'PrivateNote') }} as private_note,
        {{ fb_json_text('payload', 'CustomerMemo.value') }} as customer_memo,

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
