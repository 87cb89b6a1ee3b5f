-- every tie-out's counts in the summary add up to its records, each status count is the
-- detail's, and the summed differences are the details' (ops minus QuickBooks; expenses
-- without what people entered in QuickBooks, which is summed apart)
{%- set tieouts = {
    'payment': ('payment_tieout', [
        'matched', 'amount_mismatch', 'application_mismatch', 'date_mismatch', 'pending',
        'missing_in_quickbooks', 'missing_in_ops',
    ]),
    'customer': ('customer_tieout', [
        'matched', 'edited_in_quickbooks', 'pending', 'field_mismatch', 'ambiguous',
        'missing_in_quickbooks', 'missing_in_ops',
    ]),
    'expense': ('expense_tieout', [
        'matched', 'amount_mismatch', 'account_mismatch', 'job_mismatch', 'pending',
        'missing_in_quickbooks', 'missing_in_ops', 'deleted_in_ops_live_in_quickbooks',
        'entered_in_quickbooks',
    ]),
    'sales_tax': ('sales_tax_by_period', [
        'matched', 'matched_rounding', 'tax_mismatch', 'amount_mismatch',
        'missing_in_quickbooks', 'missing_in_ops',
    ]),
} %}
with

summary as (

    select * from {{ ref('tieout_summary') }}

),

{%- for prefix, (model, statuses) in tieouts.items() %}

{{ prefix }}_detail as (

    select
        count(*) as record_count,
        {%- for status in statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as {{ status }}_count{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref(model) }}

),
{%- endfor %}

payment_sums as (

    select coalesce(sum(ops_amount), 0) - coalesce(sum(qbo_amount), 0) as amount_difference
    from {{ ref('payment_tieout') }}

),

expense_sums as (

    select
        coalesce(sum(case when status <> 'entered_in_quickbooks' then ops_amount end), 0)
        - coalesce(sum(case when status <> 'entered_in_quickbooks' then qbo_amount end), 0) as amount_difference,
        coalesce(sum(case when status = 'entered_in_quickbooks' then qbo_amount end), 0) as entered_amount
    from {{ ref('expense_tieout') }}

),

sales_tax_sums as (

    select coalesce(sum(ops_tax), 0) - coalesce(sum(qbo_tax), 0) as tax_difference
    from {{ ref('sales_tax_by_period') }}

),

ar_days as (

    select count(*) as day_count
    from {{ ref('ar_by_day') }}

),

problems as (

    {%- for prefix, (model, statuses) in tieouts.items() %}
    select '{{ prefix }} record_count' as problem
    from summary
    cross join {{ prefix }}_detail
    where
        summary.{{ prefix }}_{{ 'period' if prefix == 'sales_tax' else 'record' }}_count
        <> {{ prefix }}_detail.record_count
        or 0
        {%- for status in statuses %}
        + summary.{{ prefix }}_{{ status }}_count
        {%- endfor %}
        <> {{ prefix }}_detail.record_count
    {%- for status in statuses %}
    union all
    select '{{ prefix }} {{ status }}_count' as problem
    from summary
    cross join {{ prefix }}_detail
    where summary.{{ prefix }}_{{ status }}_count <> {{ prefix }}_detail.{{ status }}_count
    {%- endfor %}
    union all
    {%- endfor %}
    select 'payment amount_difference' as problem
    from summary
    cross join payment_sums
    where summary.payment_amount_difference <> payment_sums.amount_difference
    union all
    select 'expense amount_difference' as problem
    from summary
    cross join expense_sums
    where
        summary.expense_amount_difference <> expense_sums.amount_difference
        or summary.expense_entered_in_quickbooks_amount <> expense_sums.entered_amount
    union all
    select 'sales tax difference' as problem
    from summary
    cross join sales_tax_sums
    where summary.sales_tax_difference <> sales_tax_sums.tax_difference
    union all
    select 'ar day_count' as problem
    from summary
    cross join ar_days
    where summary.ar_day_count <> ar_days.day_count
    union all
    select 'more than one summary row' as problem
    from summary
    having count(*) <> 1

)

select * from problems
