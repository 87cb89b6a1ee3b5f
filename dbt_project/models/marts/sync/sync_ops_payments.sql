-- payments recorded in QuickBooks that operations does not have yet (load_ops writes each
-- as one operations payment of total_amount with one application per line): live
-- QuickBooks payment lines whose payment neither the ledger nor any ops payment knows.
-- The ops invoice comes through the ledger, the ops qbo_id or the DocNumber
-- (int_invoices_linked); a line whose invoice operations does not know keeps
-- ops_invoice_id null and is held by validation.
with

payments as (

    select * from {{ ref('stg_qbo__payments') }}

),

payment_lines as (

    select * from {{ ref('stg_qbo__payment_lines') }}

),

ops_payments as (

    select * from {{ ref('stg_ops__payments') }}

),

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

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

known_payment_ids as (

    select qbo_id as qbo_payment_id
    from ledger
    where entity = 'payment' and qbo_id is not null
    union
    select qbo_id as qbo_payment_id
    from ops_payments
    where qbo_id is not null

),

linked_customers as (

    select
        qbo_customer_id,
        min(ops_customer_id) as ops_customer_id
    from customers
    where resolution = 'linked'
    group by qbo_customer_id
    having count(*) = 1

),

final as (

    select
        payment_lines.qbo_payment_id,
        payment_lines.line_index,
        payment_lines.qbo_invoice_id,
        links.ops_invoice_id,
        coalesce(ops_invoices.customer_id, linked_customers.ops_customer_id) as ops_customer_id,
        payment_lines.amount,
        payments.total_amount,
        payments.txn_date,
        payments.payment_ref_num,
        payments.qbo_customer_id,
        payments.sync_token as qbo_sync_token,
        'recorded_in_quickbooks' as reason,
        {{ fb_hash([
            'payment_lines.qbo_payment_id',
            'payment_lines.line_index',
            'payment_lines.qbo_invoice_id',
            'payment_lines.amount',
            'payments.total_amount',
            'payments.txn_date',
            'payments.payment_ref_num',
        ]) }} as payload_hash
    from payment_lines
    inner join payments
        on payment_lines.qbo_payment_id = payments.qbo_payment_id
    left join known_payment_ids
        on payment_lines.qbo_payment_id = known_payment_ids.qbo_payment_id
    left join links
        on payment_lines.qbo_invoice_id = links.qbo_invoice_id
    left join ops_invoices
        on links.ops_invoice_id = ops_invoices.invoice_id
    left join linked_customers
        on payments.qbo_customer_id = linked_customers.qbo_customer_id
    where
        not payments.is_deleted
        and known_payment_ids.qbo_payment_id is null

)

select * from final
