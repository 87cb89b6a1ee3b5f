-- the invoices and payments load_quickbooks must void in QuickBooks, written last: an
-- operations invoice voided or deleted, or an operations payment deleted, that fieldbooks
-- put in QuickBooks and QuickBooks still has live. A void, not a delete: QuickBooks keeps
-- the record with its amounts at zero, so the audit trail shows what was undone.
-- QuickBooks refuses to void an invoice a payment is still applied to, and a deposited
-- payment (is_deposited): both become issues, never a changed amount.
-- payload_hash is the void's own, so the ledger row of the record says it was voided.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

ops_payments as (

    select * from {{ ref('stg_ops__payments') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

qbo_payments as (

    select * from {{ ref('stg_qbo__payments') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

invoice_voids as (

    select
        'invoice' as entity,
        ops_invoices.invoice_id as ops_id,
        qbo_invoices.qbo_invoice_id as qbo_id,
        qbo_invoices.sync_token as qbo_sync_token,
        ops_invoices.invoice_number as marker,
        case when ops_invoices.is_deleted then 'deleted_in_ops' else 'voided_in_ops' end as cause,
        ops_invoices.total as ops_amount,
        qbo_invoices.total_amount as qbo_amount,
        false as is_deposited,
        ledger.state as ledger_state,
        ledger.payload_hash as ledger_payload_hash,
        qbo_invoices.is_voided as is_voided_in_qbo
    from ops_invoices
    inner join ledger
        on
            ledger.entity = 'invoice'
            and ops_invoices.invoice_id = ledger.ops_id
    inner join qbo_invoices
        on coalesce(ledger.qbo_id, ops_invoices.qbo_id) = qbo_invoices.qbo_invoice_id
    where
        (ops_invoices.is_deleted or ops_invoices.status = 'void')
        and not qbo_invoices.is_deleted

),

payment_voids as (

    select
        'payment' as entity,
        ops_payments.payment_id as ops_id,
        qbo_payments.qbo_payment_id as qbo_id,
        qbo_payments.sync_token as qbo_sync_token,
        'fieldbooks:payment:' || ops_payments.payment_id as marker,
        'deleted_in_ops' as cause,
        ops_payments.amount as ops_amount,
        qbo_payments.total_amount as qbo_amount,
        ops_payments.is_deposited,
        ledger.state as ledger_state,
        ledger.payload_hash as ledger_payload_hash,
        qbo_payments.is_voided as is_voided_in_qbo
    from ops_payments
    inner join ledger
        on
            ledger.entity = 'payment'
            and ops_payments.payment_id = ledger.ops_id
    inner join qbo_payments
        on ledger.qbo_id = qbo_payments.qbo_payment_id
    where
        ops_payments.is_deleted
        -- only a payment fieldbooks wrote; one the bookkeeper recorded stays theirs
        and ops_payments.payment_source = 'ops'
        and ledger.origin = 'ops'
        and not qbo_payments.is_deleted

),

candidates as (

    select * from invoice_voids
    union all
    select * from payment_voids

),

hashed as (

    select
        candidates.*,
        {{ fb_hash(["'void'", 'candidates.entity', 'candidates.ops_id', 'candidates.qbo_id']) }}
            as payload_hash
    from candidates

),

final as (

    select
        entity,
        ops_id,
        -- already void in QuickBooks (by a person, or our void's answer was lost): record it
        case when is_voided_in_qbo then 'record' else 'void' end as action,
        qbo_id,
        qbo_sync_token,
        marker,
        cause,
        cast(ops_amount as numeric(18, 2)) as ops_amount,
        cast(qbo_amount as numeric(18, 2)) as qbo_amount,
        is_deposited,
        payload_hash,
        case
            when ledger_state in ('pending', 'failed') then 'retry'
            when coalesce(ledger_payload_hash, '') <> payload_hash then 'new'
        end as reason
    from hashed

)

select * from final
where reason is not null
