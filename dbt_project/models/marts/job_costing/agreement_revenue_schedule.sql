-- maintenance-agreement revenue recognised over the agreement's term: one row per agreement
-- and month of its term, straight-line; cumulative amounts are rounded (half up, to the
-- cent) and each month takes the difference, so the months add up to the price exactly
with

agreements as (

    select
        agreement_id,
        agreement_number,
        customer_id,
        trade_id,
        plan_name,
        agreement_status,
        price,
        term_months,
        starts_on,
        ends_on,
        -- whole cents: exact integer arithmetic on both warehouses
        cast(price * 100 as bigint) as price_cents
    from {{ ref('stg_ops__maintenance_agreements') }}
    where
        not is_deleted
        and term_months > 0

),

-- the job that sold the agreement (its first, when several carry it): branch and job
selling_jobs as (

    select
        agreement_id,
        job_id,
        branch_id,
        row_number() over (partition by agreement_id order by opened_on, job_id) as job_rank
    from {{ ref('stg_ops__jobs') }}
    where
        not is_deleted
        and agreement_id is not null

),

digits as (

    select 0 as digit
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9

),

-- months 1..100 of a term (a longer term fails assert_job_costing_agreement_schedule_adds_up)
periods as (

    select tens.digit * 10 + ones.digit + 1 as period_number
    from digits as tens
    cross join digits as ones

),

scheduled as (

    select
        agreements.agreement_id,
        agreements.agreement_number,
        agreements.customer_id,
        agreements.trade_id,
        selling_jobs.branch_id,
        selling_jobs.job_id,
        agreements.plan_name,
        agreements.agreement_status,
        agreements.price,
        agreements.term_months,
        agreements.starts_on,
        agreements.ends_on,
        periods.period_number,
        2 * agreements.price_cents * periods.period_number + agreements.term_months
            as numerator_to_date,
        2 * agreements.price_cents * (periods.period_number - 1) + agreements.term_months
            as numerator_before,
        2 * agreements.term_months as denominator
    from agreements
    inner join periods
        on agreements.term_months >= periods.period_number
    left join selling_jobs
        on
            agreements.agreement_id = selling_jobs.agreement_id
            and selling_jobs.job_rank = 1

),

-- round half up of price × n / term in cents: floor((2·price·n + term) / (2·term)),
-- a floor taken by subtracting the remainder so no warehouse divides inexactly
cumulated as (

    select
        *,
        cast((numerator_to_date - numerator_to_date % denominator) / denominator as bigint)
            as cents_to_date,
        cast((numerator_before - numerator_before % denominator) / denominator as bigint)
            as cents_before
    from scheduled

),

final as (

    select
        agreement_id,
        period_number,
        agreement_number,
        customer_id,
        trade_id,
        branch_id,
        job_id,
        plan_name,
        agreement_status,
        price,
        term_months,
        starts_on,
        ends_on,
        cast(
            date_trunc('month', starts_on + (period_number - 1) * interval '1 month') as date
        ) as recognition_month,
        cast(cast(cents_to_date - cents_before as numeric(18, 0)) * 0.01 as numeric(18, 2))
            as recognized_amount,
        cast(cast(cents_to_date as numeric(18, 0)) * 0.01 as numeric(18, 2))
            as recognized_to_date,
        cast(price - cast(cents_to_date as numeric(18, 0)) * 0.01 as numeric(18, 2))
            as deferred_after
    from cumulated

)

select * from final
