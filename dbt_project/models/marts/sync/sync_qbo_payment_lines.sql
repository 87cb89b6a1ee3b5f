-- the invoices each payment in sync_qbo_payments pays: one line per live application,
-- in the order QuickBooks gets them; qbo_invoice_id is null while the invoice is not there
with

payments as (

    select * from {{ ref('sync_qbo_payments') }}

),

applications as (

    select * from {{ ref('stg_ops__payment_applications') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

final as (

    select
        applications.payment_id as ops_payment_id,
        applications.payment_application_id as ops_application_id,
        row_number() over (
            partition by applications.payment_id
            order by cast(applications.payment_application_id as bigint)
        ) as line_number,
        applications.invoice_id as ops_invoice_id,
        links.qbo_invoice_id,
        cast(applications.amount as numeric(18, 2)) as amount
    from applications
    inner join payments
        on applications.payment_id = payments.ops_payment_id
    left join links
        on applications.invoice_id = links.ops_invoice_id
    where not applications.is_deleted

)

select * from final
