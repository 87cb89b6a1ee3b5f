-- the roll-ups by trade, branch, month and technician add up to the jobs: one row per
-- figure whose roll-up total differs from job_costing's
with

jobs as (

    select
        sum(revenue) as revenue,
        sum(cost_of_revenue) as cost_of_revenue,
        sum(gross_margin) as gross_margin,
        sum(warranty_expense) as warranty_expense,
        sum(labor_cost) as labor_cost
    from {{ ref('job_costing') }}

),

by_trade as (

    select
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin,
        sum(warranty_expense) as warranty_expense
    from {{ ref('job_costing_by_trade') }}

),

by_branch as (

    select
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin,
        sum(warranty_expense) as warranty_expense
    from {{ ref('job_costing_by_branch') }}

),

by_month as (

    select
        sum(revenue) as revenue,
        sum(cost_of_revenue) as cost_of_revenue,
        sum(warranty_expense) as warranty_expense,
        sum(agreement_revenue_recognized) as agreement_revenue_recognized
    from {{ ref('job_costing_by_month') }}

),

by_technician as (

    select sum(labor_cost) as labor_cost
    from {{ ref('job_costing_by_technician') }}

),

schedule as (

    select coalesce(sum(recognized_amount), 0) as recognized_amount
    from {{ ref('agreement_revenue_schedule') }}

),

checks as (

    select
        'trade revenue' as figure,
        by_trade.revenue as rolled_up,
        jobs.revenue as expected
    from by_trade cross join jobs
    union all
    select
        'trade gross margin' as figure,
        by_trade.gross_margin as rolled_up,
        jobs.gross_margin as expected
    from by_trade cross join jobs
    union all
    select
        'trade warranty expense' as figure,
        by_trade.warranty_expense as rolled_up,
        jobs.warranty_expense as expected
    from by_trade cross join jobs
    union all
    select
        'branch revenue' as figure,
        by_branch.revenue as rolled_up,
        jobs.revenue as expected
    from by_branch cross join jobs
    union all
    select
        'branch gross margin' as figure,
        by_branch.gross_margin as rolled_up,
        jobs.gross_margin as expected
    from by_branch cross join jobs
    union all
    select
        'month revenue' as figure,
        by_month.revenue as rolled_up,
        jobs.revenue as expected
    from by_month cross join jobs
    union all
    select
        'month cost of revenue' as figure,
        by_month.cost_of_revenue as rolled_up,
        jobs.cost_of_revenue as expected
    from by_month cross join jobs
    union all
    select
        'month warranty expense' as figure,
        by_month.warranty_expense as rolled_up,
        jobs.warranty_expense as expected
    from by_month cross join jobs
    union all
    select
        'month agreement revenue' as figure,
        by_month.agreement_revenue_recognized as rolled_up,
        schedule.recognized_amount as expected
    from by_month cross join schedule
    union all
    select
        'technician labor cost' as figure,
        by_technician.labor_cost as rolled_up,
        jobs.labor_cost as expected
    from by_technician cross join jobs

)

select *
from checks
where coalesce(rolled_up, 0) <> coalesce(expected, 0)
