-- what each QuickBooks payment pays: one row per LinkedTxn of type Invoice on a payment line
with

source as (

    select * from {{ source('raw_qbo', 'payment') }}
    where realm_id = '{{ var("realm_id") }}'

),

lines as (

    select
        source.id,
        source.deleted,
        payment_lines.line,
        payment_lines.line_index
    from source
    {{ fb_json_array_rows('source.payload', 'Line', 'payment_lines', 'line', 'line_index') }}

),

linked as (

    select
        lines.id,
        lines.deleted,
        lines.line,
        lines.line_index,
        linked_txns.linked_txn,
        linked_txns.linked_txn_index
    from lines
    {{ fb_json_array_rows('lines.line', 'LinkedTxn', 'linked_txns', 'linked_txn', 'linked_txn_index') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as qbo_payment_id,
        cast(line_index as integer) as line_index,
        cast(linked_txn_index as integer) as linked_txn_index,
        {{ fb_json_text('linked_txn', 'TxnId') }} as qbo_invoice_id,
        {{ fb_json_text('linked_txn', 'TxnType') }} as txn_type,

        -- amounts
        {{ fb_json_number('line', 'Amount') }} as amount,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from linked

)

select * from renamed
where txn_type = 'Invoice'
