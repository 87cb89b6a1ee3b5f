{#
    fb_job_costing_rollup(id_column, name_column): job_costing summed over the jobs of
    one dimension (trade, branch), with the gross margin percent of the sums (not an
    average of the jobs' percents), computed as job_costing computes it.
#}
{% macro fb_job_costing_rollup(id_column, name_column) -%}
with

jobs as (

    select * from {{ ref('job_costing') }}

),

summed as (

    select
        {{ id_column }},
        {{ name_column }},
        count(*) as job_count,
        sum(case when is_warranty then 1 else 0 end) as warranty_job_count,
        cast(sum(labor_hours) as numeric(18, 4)) as labor_hours,
        cast(sum(revenue_service) as numeric(18, 2)) as revenue_service,
        cast(sum(revenue_equipment) as numeric(18, 2)) as revenue_equipment,
        cast(sum(revenue_materials) as numeric(18, 2)) as revenue_materials,
        cast(sum(revenue_subcontract) as numeric(18, 2)) as revenue_subcontract,
        cast(sum(revenue_fees) as numeric(18, 2)) as revenue_fees,
        cast(sum(revenue_discounts) as numeric(18, 2)) as revenue_discounts,
        cast(sum(revenue_other) as numeric(18, 2)) as revenue_other,
        cast(sum(revenue) as numeric(18, 2)) as revenue,
        cast(sum(permits_billed) as numeric(18, 2)) as permits_billed,
        cast(sum(agreement_billed) as numeric(18, 2)) as agreement_billed,
        cast(sum(warranty_billed_net) as numeric(18, 2)) as warranty_billed_net,
        cast(sum(labor_cost) as numeric(18, 2)) as labor_cost,
        cast(sum(materials_cost) as numeric(18, 2)) as materials_cost,
        cast(sum(subcontract_cost) as numeric(18, 2)) as subcontract_cost,
        cast(sum(permit_cost) as numeric(18, 2)) as permit_cost,
        cast(sum(equipment_cost) as numeric(18, 2)) as equipment_cost,
        cast(sum(other_cost) as numeric(18, 2)) as other_cost,
        cast(sum(vendor_cost) as numeric(18, 2)) as vendor_cost,
        cast(sum(job_cost) as numeric(18, 2)) as job_cost,
        cast(sum(permit_net) as numeric(18, 2)) as permit_net,
        cast(sum(warranty_expense) as numeric(18, 2)) as warranty_expense,
        cast(sum(cost_of_revenue) as numeric(18, 2)) as cost_of_revenue,
        cast(sum(gross_margin) as numeric(18, 2)) as gross_margin,
        cast(sum(retainage_withheld) as numeric(18, 2)) as retainage_withheld,
        cast(sum(retainage_held) as numeric(18, 2)) as retainage_held,
        cast(sum(retainage_released) as numeric(18, 2)) as retainage_released,
        cast(sum(qbo_vendor_cost) as numeric(18, 2)) as qbo_vendor_cost,
        cast(sum(vendor_cost_difference) as numeric(18, 2)) as vendor_cost_difference,
        -- insurance versus retail (roofing claims are billed to the insurer beyond the deductible)
        cast(sum(case when is_insurance_claim then revenue else 0 end) as numeric(18, 2))
            as revenue_insurance,
        cast(sum(case when is_insurance_claim then 0 else revenue end) as numeric(18, 2))
            as revenue_retail
    from jobs
    group by {{ id_column }}, {{ name_column }}

),

-- gross margin percent as in job_costing: 100 × margin / revenue, half away from zero to
-- 0.01 %, exact integer arithmetic on cents; null without revenue
percent_parts as (

    select
        {{ id_column }},
        gross_margin,
        cast(abs(gross_margin) * 100 as bigint) * 20000 + cast(revenue * 100 as bigint)
            as percent_numerator,
        cast(revenue * 100 as bigint) * 2 as percent_denominator
    from summed
    where revenue > 0

),

percents as (

    select
        {{ id_column }},
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
        summed.*,
        percents.gross_margin_percent
    from summed
    left join percents
        on summed.{{ id_column }} = percents.{{ id_column }}

)

select * from final
{%- endmacro %}
