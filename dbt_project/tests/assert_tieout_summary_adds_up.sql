-- the summary's counts and sums are those of the invoice tie-out it summarises
with

detail as (

    select
        count(*) as record_count,
        sum(case when status = 'matched' then 1 else 0 end) as matched_count,
        coalesce(sum(ops_total), 0) - coalesce(sum(qbo_total), 0) as total_difference,
        coalesce(sum(ops_balance), 0) - coalesce(sum(qbo_balance), 0) as balance_difference
    from {{ ref('invoice_tieout') }}

),

summary as (

    select * from {{ ref('tieout_summary') }}
    where entity = 'invoice'

)

select
    summary.record_count,
    detail.record_count as detail_record_count
from summary
cross join detail
where
    summary.record_count <> detail.record_count
    or summary.matched_count <> detail.matched_count
    or summary.matched_count + summary.matched_rounding_count + summary.amount_mismatch_count
    + summary.tax_mismatch_count + summary.pending_count
    + summary.missing_in_quickbooks_count + summary.missing_in_ops_count <> summary.record_count
    or summary.total_difference <> detail.total_difference
    or summary.balance_difference <> detail.balance_difference
