-- the payments taken in operations that load_quickbooks must record in QuickBooks:
-- live payments of source 'ops' with no ledger row in state sent/confirmed, one row per
-- payment. The invoices a payment pays are its lines (sync_qbo_payment_lines, one per live
-- application); what the lines leave of the amount stays unapplied in QuickBooks too.
-- A recorded payment is never re-sent for an edit (a deposited one cannot change).
with

payments as (

    select * from {{ ref('stg_ops__payments') }}

),

applications as (

    select * from {{ ref('stg_ops__payment_applications') }}

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

application_rollups as (

    select
        applications.payment_id,
        count(*) as line_count,
        sum(case when links.qbo_invoice_id is null then 1 else 0 end) as unlinked_line_count,
        sum(applications.amount) as applied_amount,
        string_agg(
            {{ fb_hash(['applications.invoice_id', 'applications.amount']) }},
            ',' order by cast(applications.payment_application_id as bigint)
        ) as lines_signature
    from applications
    left join links
        on applications.invoice_id = links.ops_invoice_id
    where not applications.is_deleted
    group by applications.payment_id

),

pending as (

    select
        payments.payment_id as ops_payment_id,
        payments.customer_id as ops_customer_id,
        customers.qbo_customer_id as customer_qbo_id,
        payments.amount,
        cast(coalesce(application_rollups.applied_amount, 0) as numeric(18, 2)) as applied_amount,
        coalesce(application_rollups.line_count, 0) as line_count,
        coalesce(application_rollups.unlinked_line_count, 0) as unlinked_line_count,
        application_rollups.lines_signature,
        payments.received_on as txn_date,
        payments.payment_method as method,
        payments.reference,
        'fieldbooks:payment:' || payments.payment_id as private_note,
        case when payment_ledger.ops_id is null then 'new' else 'retry' end as reason
    from payments
    left join payment_ledger
        on payments.payment_id = payment_ledger.ops_id
    left join application_rollups
        on payments.payment_id = application_rollups.payment_id
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
        ops_customer_id,
        customer_qbo_id,
        amount,
        applied_amount,
        cast(amount - applied_amount as numeric(18, 2)) as unapplied_amount,
        line_count,
        unlinked_line_count,
        txn_date,
        method,
        reference,
        private_note,
        {{ fb_hash([
            'ops_customer_id',
            'amount',
            'txn_date',
            'method',
            'reference',
            'private_note',
            'lines_signature',
        ]) }} as payload_hash,
        reason
    from pending

)

select * from final
