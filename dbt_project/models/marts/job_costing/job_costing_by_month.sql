-- job costing by calendar month, as a period view: revenue in the month its invoice was
-- issued, maintenance-agreement revenue in the months it is earned, labor in the month it
-- was worked and vendor costs in the month of the expense
with

amounts as (

    select
        cast(date_trunc('month', issue_date) as date) as month_start,
        case revenue_class
            when 'revenue' then 'revenue'
            when 'permit_reimbursable' then 'permits_billed'
            when 'agreement_deferred' then 'agreement_billed'
            else 'warranty_billed_net'
        end as measure,
        amount
    from {{ ref('int_job_revenue_lines_classified') }}

    union all

    select
        recognition_month as month_start,
        'agreement_revenue' as measure,
        recognized_amount as amount
    from {{ ref('agreement_revenue_schedule') }}

    union all

    select
        cast(date_trunc('month', work_date) as date) as month_start,
        case when is_warranty then 'warranty_labor_cost' else 'labor_cost' end as measure,
        labor_cost as amount
    from {{ ref('int_job_labor_costed') }}

    union all

    select
        cast(date_trunc('month', expense_date) as date) as month_start,
        case
            when cost_group = 'permit' then 'permit_cost'
            when is_warranty then 'warranty_' || cost_group || '_cost'
            else cost_group || '_cost'
        end as measure,
        amount
    from {{ ref('int_job_expenses_classified') }}

),

pivoted as (

    select
        month_start,
        {%- for measure in [
            'revenue', 'agreement_revenue', 'agreement_billed', 'permits_billed', 'warranty_billed_net',
            'labor_cost', 'materials_cost', 'subcontract_cost', 'equipment_cost', 'other_cost', 'permit_cost',
            'warranty_labor_cost', 'warranty_materials_cost', 'warranty_subcontract_cost',
            'warranty_equipment_cost', 'warranty_other_cost'
        ] %}
    cast(sum(case when measure = '{{ measure }}' then amount else 0 end) as numeric(18, 2))
        as {{ measure }}{{ "," if not loop.last }}
    {%- endfor %}
    from amounts
    group by month_start

),

summed as (

    select
        month_start,
        revenue,
        agreement_revenue as agreement_revenue_recognized,
        cast(revenue + agreement_revenue as numeric(18, 2)) as total_revenue,
        agreement_billed,
        permits_billed,
        permit_cost,
        cast(permits_billed - permit_cost as numeric(18, 2)) as permit_net,
        labor_cost,
        materials_cost,
        subcontract_cost,
        equipment_cost,
        other_cost,
        cast(labor_cost + materials_cost + subcontract_cost + equipment_cost + other_cost as numeric(18, 2))
            as cost_of_revenue,
        cast(
            warranty_labor_cost + warranty_materials_cost + warranty_subcontract_cost
            + warranty_equipment_cost + warranty_other_cost - warranty_billed_net
            as numeric(18, 2)
        ) as warranty_expense,
        cast(
            revenue + agreement_revenue
            - (labor_cost + materials_cost + subcontract_cost + equipment_cost + other_cost)
            as numeric(18, 2)
        ) as gross_margin
    from pivoted

),

-- gross margin percent as in job_costing: 100 × margin / total revenue, half away from zero to
-- 0.01 %, exact integer arithmetic on cents; null without revenue
percent_parts as (

    select
        month_start,
        gross_margin,
        cast(abs(gross_margin) * 100 as bigint) * 20000 + cast(total_revenue * 100 as bigint)
            as percent_numerator,
        cast(total_revenue * 100 as bigint) * 2 as percent_denominator
    from summed
    where total_revenue > 0

),

percents as (

    select
        month_start,
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
        on summed.month_start = percents.month_start

)

select * from final
