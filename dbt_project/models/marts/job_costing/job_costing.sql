-- one row per live job: revenue by kind, permits apart, labor and vendor costs, warranty
-- expense, gross margin in dollars and percent, retainage, and the same vendor costs as
-- booked in QuickBooks against the job (its sub-customer), side by side
with

jobs as (

    select * from {{ ref('stg_ops__jobs') }}
    where not is_deleted

),

branches as (

    select
        branch_id,
        branch_name
    from {{ ref('stg_ops__branches') }}

),

trades as (

    select
        trade_id,
        trade_name
    from {{ ref('stg_ops__trades') }}

),

billed as (

    select
        job_id,
        {%- for group in ['service', 'equipment', 'materials', 'subcontract', 'fees', 'discounts', 'other'] %}
        sum(case when revenue_class = 'revenue' and revenue_group = '{{ group }}' then amount else 0 end)
            as revenue_{{ group }},
        {%- endfor %}
        sum(case when revenue_class = 'revenue' then amount else 0 end) as revenue,
        sum(case when revenue_class = 'permit_reimbursable' then amount else 0 end) as permits_billed,
        sum(case when revenue_class = 'agreement_deferred' then amount else 0 end)
            as agreement_billed,
        sum(case when revenue_class = 'warranty' then amount else 0 end) as warranty_billed_net
    from {{ ref('int_job_revenue_lines_classified') }}
    group by job_id

),

labor as (

    select
        job_id,
        sum(hours) as labor_hours,
        sum(labor_cost) as labor_cost
    from {{ ref('int_job_labor_costed') }}
    group by job_id

),

vendor_costs as (

    select
        job_id,
        {%- for group in ['materials', 'subcontract', 'permit', 'equipment', 'other'] %}
        sum(case when cost_group = '{{ group }}' then amount else 0 end) as {{ group }}_cost,
        {%- endfor %}
        sum(amount) as vendor_cost
    from {{ ref('int_job_expenses_classified') }}
    group by job_id

),

qbo_costs as (

    select
        job_id,
        {%- for group in ['materials', 'subcontract', 'permit', 'equipment', 'other', 'unclassified'] %}
        sum(case when cost_group = '{{ group }}' then amount else 0 end) as qbo_{{ group }}_cost,
        {%- endfor %}
        sum(amount) as qbo_vendor_cost,
        count(*) as qbo_line_count
    from {{ ref('int_job_qbo_cost_lines_classified') }}
    group by job_id

),

retainage as (

    select
        job_id,
        sum(retainage_amount) as retainage_withheld,
        sum(retainage_held) as retainage_held,
        sum(retainage_released) as retainage_released
    from {{ ref('job_retainage') }}
    group by job_id

),

joined as (

    select
        -- ids
        jobs.job_id,
        jobs.job_number,
        jobs.customer_id,
        jobs.qbo_id as qbo_customer_id,
        jobs.branch_id,
        branches.branch_name,
        jobs.trade_id,
        trades.trade_name,
        jobs.agreement_id,

        -- job
        jobs.job_type,
        jobs.contract_type,
        jobs.job_status,
        jobs.is_warranty,
        jobs.is_insurance_claim,
        case when jobs.is_insurance_claim then 'insurance' else 'retail' end as revenue_channel,
        jobs.opened_on,
        jobs.completed_on,

        -- revenue (net of discounts; permits, agreement sales and warranty work are not revenue)
        {%- for group in ['service', 'equipment', 'materials', 'subcontract', 'fees', 'discounts', 'other'] %}
        cast(coalesce(billed.revenue_{{ group }}, 0) as numeric(18, 2)) as revenue_{{ group }},
        {%- endfor %}
        cast(coalesce(billed.revenue, 0) as numeric(18, 2)) as revenue,
        cast(coalesce(billed.permits_billed, 0) as numeric(18, 2)) as permits_billed,
        cast(coalesce(billed.agreement_billed, 0) as numeric(18, 2)) as agreement_billed,
        cast(coalesce(billed.warranty_billed_net, 0) as numeric(18, 2)) as warranty_billed_net,

        -- costs in operations
        cast(coalesce(labor.labor_hours, 0) as numeric(18, 4)) as labor_hours,
        cast(coalesce(labor.labor_cost, 0) as numeric(18, 2)) as labor_cost,
        {%- for group in ['materials', 'subcontract', 'permit', 'equipment', 'other'] %}
        cast(coalesce(vendor_costs.{{ group }}_cost, 0) as numeric(18, 2)) as {{ group }}_cost,
        {%- endfor %}
        cast(coalesce(vendor_costs.vendor_cost, 0) as numeric(18, 2)) as vendor_cost,

        -- retainage
        cast(coalesce(retainage.retainage_withheld, 0) as numeric(18, 2)) as retainage_withheld,
        cast(coalesce(retainage.retainage_held, 0) as numeric(18, 2)) as retainage_held,
        cast(coalesce(retainage.retainage_released, 0) as numeric(18, 2)) as retainage_released,

        -- costs booked in QuickBooks against the job
        (jobs.qbo_id is not null) as is_in_quickbooks,
        coalesce(qbo_costs.qbo_line_count, 0) as qbo_line_count,
        {%- for group in ['materials', 'subcontract', 'permit', 'equipment', 'other', 'unclassified'] %}
        cast(coalesce(qbo_costs.qbo_{{ group }}_cost, 0) as numeric(18, 2)) as qbo_{{ group }}_cost,
        {%- endfor %}
        cast(coalesce(qbo_costs.qbo_vendor_cost, 0) as numeric(18, 2)) as qbo_vendor_cost

    from jobs
    left join branches
        on jobs.branch_id = branches.branch_id
    left join trades
        on jobs.trade_id = trades.trade_id
    left join billed
        on jobs.job_id = billed.job_id
    left join labor
        on jobs.job_id = labor.job_id
    left join vendor_costs
        on jobs.job_id = vendor_costs.job_id
    left join qbo_costs
        on jobs.job_id = qbo_costs.job_id
    left join retainage
        on jobs.job_id = retainage.job_id

),

costed as (

    select
        *,
        -- what the job cost, permits apart (a pass-through, set against permits_billed)
        cast(labor_cost + materials_cost + subcontract_cost + equipment_cost + other_cost as numeric(18, 2))
            as job_cost,
        cast(permits_billed - permit_cost as numeric(18, 2)) as permit_net
    from joined

),

margined as (

    select
        *,
        -- warranty work is warranty expense, less anything the customer was charged for it
        cast(case when is_warranty then job_cost - warranty_billed_net else 0 end as numeric(18, 2))
            as warranty_expense,
        cast(case when is_warranty then 0 else job_cost end as numeric(18, 2)) as cost_of_revenue,
        cast(revenue - case when is_warranty then 0 else job_cost end as numeric(18, 2))
            as gross_margin,
        cast(vendor_cost - qbo_vendor_cost as numeric(18, 2)) as vendor_cost_difference
    from costed

),

-- gross margin percent = 100 × margin / revenue, half away from zero to 0.01 %, in exact
-- integer arithmetic on cents (a division would be a double on DuckDB); null without revenue
percent_parts as (

    select
        job_id,
        gross_margin,
        revenue,
        cast(abs(gross_margin) * 100 as bigint) * 20000 + cast(revenue * 100 as bigint)
            as percent_numerator,
        cast(revenue * 100 as bigint) * 2 as percent_denominator
    from margined
    where revenue > 0

),

percents as (

    select
        job_id,
        cast(
            cast(
                (case when gross_margin < 0 then -1 else 1 end)
                * cast(
                    (percent_numerator - percent_numerator % percent_denominator)
                    / percent_denominator as bigint
                ) as numeric(18, 0)
            ) * 0.01 as numeric(18, 2)
        ) as gross_margin_percent
    from percent_parts

),

final as (

    select
        margined.*,
        percents.gross_margin_percent
    from margined
    left join percents
        on margined.job_id = percents.job_id

)

select * from final
