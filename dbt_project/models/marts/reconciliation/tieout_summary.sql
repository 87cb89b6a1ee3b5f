-- one row per entity reconciled (invoices for now): how many records per status, and the sums
with

invoice_tieout as (

    select * from {{ ref('invoice_tieout') }}

),

invoices as (

    select
        'invoice' as entity,
        count(*) as record_count,
        sum(case when status = 'matched' then 1 else 0 end) as matched_count,
        sum(case when status = 'amount_mismatch' then 1 else 0 end) as amount_mismatch_count,
        sum(case when status = 'missing_in_quickbooks' then 1 else 0 end) as missing_in_quickbooks_count,
        sum(case when status = 'missing_in_ops' then 1 else 0 end) as missing_in_ops_count,
        cast(coalesce(sum(ops_total), 0) as numeric(18, 2)) as ops_total,
        cast(coalesce(sum(qbo_total), 0) as numeric(18, 2)) as qbo_total,
        cast(coalesce(sum(total_difference), 0) as numeric(18, 2)) as total_difference,
        cast(coalesce(sum(ops_balance), 0) as numeric(18, 2)) as ops_balance,
        cast(coalesce(sum(qbo_balance), 0) as numeric(18, 2)) as qbo_balance,
        cast(coalesce(sum(balance_difference), 0) as numeric(18, 2)) as balance_difference
    from invoice_tieout

)

select * from invoices
