-- a payment only pays invoices of its own customer (QuickBooks refuses anything else),
-- and it never applies more than it received
{{ config(severity='warn') }}
with

payments as (

    select * from {{ ref('stg_ops__payments') }}

),

applications as (

    select * from {{ ref('stg_ops__payment_applications') }}

),

invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

live_applications as (

    select
        applications.payment_application_id,
        applications.payment_id,
        applications.invoice_id,
        applications.amount,
        payments.customer_id as payment_customer_id,
        invoices.customer_id as invoice_customer_id
    from applications
    inner join payments
        on applications.payment_id = payments.payment_id
    inner join invoices
        on applications.invoice_id = invoices.invoice_id
    where not applications.is_deleted and not payments.is_deleted

),

other_customer as (

    select
        payment_id,
        payment_application_id,
        'invoice of another customer' as problem
    from live_applications
    where payment_customer_id <> invoice_customer_id

),

over_applied as (

    select
        live_applications.payment_id,
        min(live_applications.payment_application_id) as payment_application_id,
        'applies more than the payment' as problem
    from live_applications
    inner join payments
        on live_applications.payment_id = payments.payment_id
    group by live_applications.payment_id, payments.amount
    having sum(live_applications.amount) > payments.amount

)

select * from other_customer
union all
select * from over_applied
