-- every live maintenance agreement is recognised in full over exactly its term
with

agreements as (

    select
        agreement_id,
        price,
        term_months
    from {{ ref('stg_ops__maintenance_agreements') }}
    where not is_deleted

),

schedule as (

    select
        agreement_id,
        count(*) as periods,
        sum(recognized_amount) as recognized
    from {{ ref('agreement_revenue_schedule') }}
    group by agreement_id

)

select
    agreements.agreement_id,
    agreements.price,
    agreements.term_months,
    schedule.periods,
    schedule.recognized
from agreements
left join schedule
    on agreements.agreement_id = schedule.agreement_id
where
    coalesce(schedule.recognized, 0) <> agreements.price
    or coalesce(schedule.periods, 0) <> agreements.term_months
