-- the payments taken in operations that load_quickbooks must record in QuickBooks:
-- live payments of source 'ops' with no ledger row in state sent/confirmed.
-- A recorded payment is never re-sent for an edit (a deposited one cannot change).
with

payments as (

    select * from {{ ref('stg_ops__payments') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

customers as (

    select * from {{ ref('int_customers_matched') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

payment_ledger as (

    select * from ledger
    where entity = 'payment'

),

pending as (

    select
        payments.payment_id as ops_payment_id,
        payments.invoice_id as ops_invoice_id,
        payments.customer_id as ops_customer_id,
        links.qbo_invoice_id,
        customers.qbo_customer_id as customer_qbo_id,
        payments.amount,
        payments.received_on as txn_date,
        payments.payment_method as method,
        payments.reference,
        'fieldbooks:payment:' || payments.payment_id as private_note,
        case when payment_ledger.ops_id is null then 'new' else 'retry' end as reason
    from payments
    left join payment_ledger
        on payments.payment_id = payment_ledger.ops_id
    left join links
        on payments.invoice_id = links.ops_invoice_id
    left join customers
        on payments.customer_id = customers.ops_customer_id
    where
        payments.payment_source = 'ops'
        and not payments.is_deleted
        and (payment_ledger.ops_id is null or payment_ledger.state not in ('sent', 'confirmed'))

),

final as (

    select
        ops_payment_id,
        ops_invoice_id,
        ops_customer_id,
        qbo_invoice_id,
        customer_qbo_id,
        amount,
        txn_date,
        method,
        reference,
        private_note,
        {{ fb_hash([
            'ops_invoice_id',
            'ops_customer_id',
            'amount',
            'txn_date',
            'method',
            'reference',
            'private_note',
        ]) }} as payload_hash,
        reason
    from pending

)

select * from final
