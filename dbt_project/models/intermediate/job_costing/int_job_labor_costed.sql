-- every live labor entry of a live job, costed: hours × the cost rate of the technician
-- recorded on the entry (the rate in force when the work was done), rounded to the cent
with

jobs as (

    select
        job_id,
        is_warranty
    from {{ ref('stg_ops__jobs') }}
    where not is_deleted

),

entries as (

    select
        labor_entry_id,
        job_id,
        technician_id,
        work_date,
        hours,
        cost_rate,
        is_billable
    from {{ ref('stg_ops__labor_entries') }}
    where not is_deleted

),

technicians as (

    select
        technician_id,
        cost_rate
    from {{ ref('stg_ops__technicians') }}

),

costed as (

    select
        entries.labor_entry_id,
        entries.job_id,
        entries.technician_id,
        entries.work_date,
        entries.hours,
        entries.is_billable,
        jobs.is_warranty,
        technicians.cost_rate as technician_cost_rate,
        cast(coalesce(entries.cost_rate, technicians.cost_rate) as numeric(18, 2)) as cost_rate,
        cast(
            round(entries.hours * coalesce(entries.cost_rate, technicians.cost_rate), 2)
            as numeric(18, 2)
        ) as labor_cost
    from entries
    inner join jobs
        on entries.job_id = jobs.job_id
    left join technicians
        on entries.technician_id = technicians.technician_id

)

select * from costed
