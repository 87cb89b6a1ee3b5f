-- labor by technician: hours and their cost on live jobs, billable or not, and how much of
-- it went to warranty work
with

technicians as (

    select
        technician_id,
        branch_id,
        trade_id,
        given_name,
        family_name,
        cost_rate,
        is_active,
        is_deleted
    from {{ ref('stg_ops__technicians') }}

),

labor as (

    select
        technician_id,
        count(*) as labor_entry_count,
        count(distinct job_id) as job_count,
        sum(hours) as labor_hours,
        sum(case when is_billable then hours else 0 end) as billable_hours,
        sum(labor_cost) as labor_cost,
        sum(case when is_warranty then hours else 0 end) as warranty_hours,
        sum(case when is_warranty then labor_cost else 0 end) as warranty_labor_cost
    from {{ ref('int_job_labor_costed') }}
    group by technician_id

),

final as (

    select
        technicians.technician_id,
        technicians.branch_id,
        technicians.trade_id,
        technicians.given_name || ' ' || technicians.family_name as technician_name,
        technicians.cost_rate as current_cost_rate,
        technicians.is_active,
        technicians.is_deleted,
        coalesce(labor.labor_entry_count, 0) as labor_entry_count,
        coalesce(labor.job_count, 0) as job_count,
        cast(coalesce(labor.labor_hours, 0) as numeric(18, 4)) as labor_hours,
        cast(coalesce(labor.billable_hours, 0) as numeric(18, 4)) as billable_hours,
        cast(coalesce(labor.labor_hours, 0) - coalesce(labor.billable_hours, 0) as numeric(18, 4))
            as non_billable_hours,
        cast(coalesce(labor.labor_cost, 0) as numeric(18, 2)) as labor_cost,
        cast(coalesce(labor.warranty_hours, 0) as numeric(18, 4)) as warranty_hours,
        cast(coalesce(labor.warranty_labor_cost, 0) as numeric(18, 2)) as warranty_labor_cost
    from technicians
    left join labor
        on technicians.technician_id = labor.technician_id
    where
        not technicians.is_deleted
        or labor.technician_id is not null

)

select * from final
