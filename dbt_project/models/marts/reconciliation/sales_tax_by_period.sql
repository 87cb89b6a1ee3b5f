-- sales tax per month and QuickBooks tax code, operations against QuickBooks: taxable
-- sales and tax of the invoices dated in the month (each side by its own invoice date).
-- Operations invoices take the tax code their jurisdiction maps to
-- (map_tax_jurisdictions) when they have a taxable line, as sync_qbo_invoices sends them;
-- 'none' is no tax code, 'unmapped:<jurisdiction>' a taxable invoice without a mapping.
-- A tax difference made only of one-cent rounding differences (int_invoice_taxes_compared)
-- is matched_rounding, and rounding_difference says how much of it there is.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

ops_lines as (

    select * from {{ ref('stg_ops__invoice_lines') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

qbo_lines as (

    select * from {{ ref('stg_qbo__invoice_lines') }}

),

tax_codes as (

    select * from {{ ref('stg_qbo__tax_codes') }}

),

tax_map as (

    select * from {{ ref('map_tax_jurisdictions') }}

),

taxes_compared as (

    select * from {{ ref('int_invoice_taxes_compared') }}

),

ops_taxable as (

    select
        invoice_id,
        sum(case when is_taxable then amount else 0 end) as taxable_amount,
        max(case when is_taxable then 1 else 0 end) = 1 as has_taxable_line
    from ops_lines
    where not is_deleted
    group by invoice_id

),

ops_invoice_taxes as (

    select
        ops_invoices.invoice_id,
        cast(date_trunc('month', ops_invoices.issue_date) as date) as period_month,
        case
            when not coalesce(ops_taxable.has_taxable_line, false) then 'none'
            else coalesce(tax_map.qbo_tax_code_id, 'unmapped:' || coalesce(ops_invoices.tax_jurisdiction, ''))
        end as tax_code_id,
        coalesce(ops_taxable.taxable_amount, 0) as taxable_amount,
        coalesce(ops_invoices.tax, 0) as tax,
        coalesce(taxes_compared.is_rounding_difference, false) as is_rounding_difference,
        case
            when taxes_compared.is_rounding_difference then taxes_compared.tax_difference else 0
        end as rounding_difference
    from ops_invoices
    left join ops_taxable
        on ops_invoices.invoice_id = ops_taxable.invoice_id
    left join tax_map
        on ops_invoices.tax_jurisdiction = tax_map.tax_jurisdiction
    left join taxes_compared
        on ops_invoices.invoice_id = taxes_compared.ops_invoice_id
    where not ops_invoices.is_deleted and ops_invoices.status not in ('draft', 'void')

),

qbo_taxable as (

    select
        qbo_invoice_id,
        sum(case when tax_code = 'TAX' then amount else 0 end) as taxable_amount
    from qbo_lines
    where not is_deleted
    group by qbo_invoice_id

),

qbo_invoice_taxes as (

    select
        qbo_invoices.qbo_invoice_id,
        cast(date_trunc('month', qbo_invoices.txn_date) as date) as period_month,
        coalesce(qbo_invoices.qbo_tax_code_id, 'none') as tax_code_id,
        coalesce(qbo_taxable.taxable_amount, 0) as taxable_amount,
        coalesce(qbo_invoices.total_tax, 0) as tax
    from qbo_invoices
    left join qbo_taxable
        on qbo_invoices.qbo_invoice_id = qbo_taxable.qbo_invoice_id
    where not qbo_invoices.is_deleted

),

ops_periods as (

    select
        period_month,
        tax_code_id,
        count(*) as invoice_count,
        sum(taxable_amount) as taxable_amount,
        sum(tax) as tax,
        sum(case when is_rounding_difference then 1 else 0 end) as rounding_invoice_count,
        sum(rounding_difference) as rounding_difference
    from ops_invoice_taxes
    group by period_month, tax_code_id

),

qbo_periods as (

    select
        period_month,
        tax_code_id,
        count(*) as invoice_count,
        sum(taxable_amount) as taxable_amount,
        sum(tax) as tax
    from qbo_invoice_taxes
    group by period_month, tax_code_id

),

paired as (

    select
        coalesce(ops_periods.period_month, qbo_periods.period_month) as period_month,
        coalesce(ops_periods.tax_code_id, qbo_periods.tax_code_id) as tax_code_id,
        coalesce(ops_periods.invoice_count, 0) as ops_invoice_count,
        coalesce(qbo_periods.invoice_count, 0) as qbo_invoice_count,
        cast(coalesce(ops_periods.taxable_amount, 0) as numeric(18, 2)) as ops_taxable_amount,
        cast(coalesce(qbo_periods.taxable_amount, 0) as numeric(18, 2)) as qbo_taxable_amount,
        cast(coalesce(ops_periods.tax, 0) as numeric(18, 2)) as ops_tax,
        cast(coalesce(qbo_periods.tax, 0) as numeric(18, 2)) as qbo_tax,
        coalesce(ops_periods.rounding_invoice_count, 0) as rounding_invoice_count,
        cast(coalesce(ops_periods.rounding_difference, 0) as numeric(18, 2)) as rounding_difference
    from ops_periods
    full outer join qbo_periods
        on
            ops_periods.period_month = qbo_periods.period_month
            and ops_periods.tax_code_id = qbo_periods.tax_code_id

),

final as (

    select
        '{{ var("realm_id") }}' as realm_id,
        paired.period_month,
        paired.tax_code_id,
        tax_codes.tax_code_name,
        paired.ops_invoice_count,
        paired.qbo_invoice_count,
        paired.ops_taxable_amount,
        paired.qbo_taxable_amount,
        cast(paired.ops_taxable_amount - paired.qbo_taxable_amount as numeric(18, 2)) as taxable_difference,
        paired.ops_tax,
        paired.qbo_tax,
        cast(paired.ops_tax - paired.qbo_tax as numeric(18, 2)) as tax_difference,
        paired.rounding_invoice_count,
        paired.rounding_difference,
        case
            when paired.ops_invoice_count = 0 then 'missing_in_ops'
            when paired.qbo_invoice_count = 0 then 'missing_in_quickbooks'
            when paired.ops_tax = paired.qbo_tax and paired.ops_taxable_amount = paired.qbo_taxable_amount
                then 'matched'
            when
                paired.ops_tax - paired.qbo_tax = paired.rounding_difference
                and paired.rounding_invoice_count > 0
                and paired.ops_taxable_amount = paired.qbo_taxable_amount
                then 'matched_rounding'
            when paired.ops_tax <> paired.qbo_tax then 'tax_mismatch'
            else 'amount_mismatch'
        end as status
    from paired
    left join tax_codes
        on paired.tax_code_id = tax_codes.qbo_tax_code_id

)

select * from final
