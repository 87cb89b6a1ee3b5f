-- one row per dbt run: how many records of each tie-out are in each status, and the sums.
-- The unprefixed columns are the invoice tie-out's (entity = 'invoice', as before this
-- summary covered the other tie-outs); payment_*, customer_*, expense_*, ar_* and
-- sales_tax_* summarise the others. is_tied_out: every record and period matched
-- (rounding included, counted apart; a Purchase or Bill a person entered in QuickBooks
-- is not a difference) and accounts receivable agree on the last day.
{%- set invoice_statuses = [
    'matched', 'matched_rounding', 'amount_mismatch', 'tax_mismatch', 'pending',
    'missing_in_quickbooks', 'missing_in_ops',
] %}
{%- set payment_statuses = [
    'matched', 'amount_mismatch', 'application_mismatch', 'date_mismatch', 'pending',
    'missing_in_quickbooks', 'missing_in_ops',
] %}
{%- set customer_statuses = [
    'matched', 'edited_in_quickbooks', 'pending', 'field_mismatch', 'ambiguous',
    'missing_in_quickbooks', 'missing_in_ops',
] %}
{%- set expense_statuses = [
    'matched', 'amount_mismatch', 'account_mismatch', 'job_mismatch', 'pending',
    'missing_in_quickbooks', 'missing_in_ops', 'deleted_in_ops_live_in_quickbooks',
    'entered_in_quickbooks',
] %}
{%- set sales_tax_statuses = [
    'matched', 'matched_rounding', 'tax_mismatch', 'amount_mismatch',
    'missing_in_quickbooks', 'missing_in_ops',
] %}
with

invoice_tieout as (

    select * from {{ ref('invoice_tieout') }}

),

payment_tieout as (

    select * from {{ ref('payment_tieout') }}

),

customer_tieout as (

    select * from {{ ref('customer_tieout') }}

),

expense_tieout as (

    select * from {{ ref('expense_tieout') }}

),

ar_by_day as (

    select * from {{ ref('ar_by_day') }}

),

sales_tax_by_period as (

    select * from {{ ref('sales_tax_by_period') }}

),

invoices as (

    select
        count(*) as record_count,
        {%- for status in invoice_statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as {{ status }}_count,
        {%- endfor %}
        cast(coalesce(sum(ops_total), 0) as numeric(18, 2)) as ops_total,
        cast(coalesce(sum(qbo_total), 0) as numeric(18, 2)) as qbo_total,
        cast(coalesce(sum(total_difference), 0) as numeric(18, 2)) as total_difference,
        cast(coalesce(sum(ops_balance), 0) as numeric(18, 2)) as ops_balance,
        cast(coalesce(sum(qbo_balance), 0) as numeric(18, 2)) as qbo_balance,
        cast(coalesce(sum(balance_difference), 0) as numeric(18, 2)) as balance_difference,
        cast(coalesce(sum(tax_difference), 0) as numeric(18, 2)) as tax_difference
    from invoice_tieout

),

payments as (

    select
        count(*) as payment_record_count,
        {%- for status in payment_statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as payment_{{ status }}_count,
        {%- endfor %}
        cast(coalesce(sum(ops_amount), 0) as numeric(18, 2)) as payment_ops_amount,
        cast(coalesce(sum(qbo_amount), 0) as numeric(18, 2)) as payment_qbo_amount,
        cast(coalesce(sum(amount_difference), 0) as numeric(18, 2)) as payment_amount_difference
    from payment_tieout

),

customers as (

    select
        count(*) as customer_record_count,
        {%- for status in customer_statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as customer_{{ status }}_count,
        {%- endfor %}
        coalesce(sum(mismatched_field_count), 0) as customer_mismatched_field_count
    from customer_tieout

),

-- the sums leave out what people entered in QuickBooks themselves (summed apart)
expenses as (

    select
        count(*) as expense_record_count,
        {%- for status in expense_statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as expense_{{ status }}_count,
        {%- endfor %}
        cast(
            coalesce(sum(case when status <> 'entered_in_quickbooks' then ops_amount end), 0) as numeric(18, 2)
        ) as expense_ops_amount,
        cast(
            coalesce(sum(case when status <> 'entered_in_quickbooks' then qbo_amount end), 0) as numeric(18, 2)
        ) as expense_qbo_amount,
        cast(
            coalesce(sum(case when status <> 'entered_in_quickbooks' then difference end), 0) as numeric(18, 2)
        ) as expense_amount_difference,
        cast(
            coalesce(sum(case when status = 'entered_in_quickbooks' then qbo_amount end), 0) as numeric(18, 2)
        ) as expense_entered_in_quickbooks_amount
    from expense_tieout

),

ar_days as (

    select
        count(*) as ar_day_count,
        sum(case when status = 'matched' then 1 else 0 end) as ar_matched_day_count,
        min(as_of_date) as ar_first_date,
        max(as_of_date) as ar_last_date
    from ar_by_day

),

ar_last_day as (

    select
        ar_by_day.ops_open_balance as ar_ops_open_balance,
        ar_by_day.qbo_open_balance as ar_qbo_open_balance,
        ar_by_day.difference as ar_difference
    from ar_by_day
    inner join ar_days
        on ar_by_day.as_of_date = ar_days.ar_last_date

),

sales_tax as (

    select
        count(*) as sales_tax_period_count,
        {%- for status in sales_tax_statuses %}
        sum(case when status = '{{ status }}' then 1 else 0 end) as sales_tax_{{ status }}_count,
        {%- endfor %}
        cast(coalesce(sum(ops_tax), 0) as numeric(18, 2)) as sales_tax_ops_tax,
        cast(coalesce(sum(qbo_tax), 0) as numeric(18, 2)) as sales_tax_qbo_tax,
        cast(coalesce(sum(tax_difference), 0) as numeric(18, 2)) as sales_tax_difference,
        cast(coalesce(sum(rounding_difference), 0) as numeric(18, 2)) as sales_tax_rounding_difference
    from sales_tax_by_period

),

final as (

    select
        '{{ invocation_id }}' as dbt_invocation_id,  -- noqa: TMP
        '{{ var("realm_id") }}' as realm_id,
        'invoice' as entity,
        invoices.*,
        payments.*,
        customers.*,
        expenses.*,
        ar_days.*,
        cast(coalesce(ar_last_day.ar_ops_open_balance, 0) as numeric(18, 2)) as ar_ops_open_balance,
        cast(coalesce(ar_last_day.ar_qbo_open_balance, 0) as numeric(18, 2)) as ar_qbo_open_balance,
        cast(coalesce(ar_last_day.ar_difference, 0) as numeric(18, 2)) as ar_difference,
        sales_tax.*,
        (
            invoices.matched_count + invoices.matched_rounding_count = invoices.record_count
            and payments.payment_matched_count = payments.payment_record_count
            and customers.customer_matched_count = customers.customer_record_count
            and expenses.expense_matched_count + expenses.expense_entered_in_quickbooks_count
            = expenses.expense_record_count
            and sales_tax.sales_tax_matched_count + sales_tax.sales_tax_matched_rounding_count
            = sales_tax.sales_tax_period_count
            and coalesce(ar_last_day.ar_difference, 0) = 0
        ) as is_tied_out
    from invoices
    cross join payments
    cross join customers
    cross join expenses
    cross join ar_days
    left join ar_last_day
        on 1 = 1
    cross join sales_tax

)

select * from final
