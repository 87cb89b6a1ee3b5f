-- what each job billed, by service category and by what it is for the job's books
-- (revenue, permit_reimbursable, agreement_deferred, warranty)
with

lines as (

    select * from {{ ref('int_job_revenue_lines_classified') }}

),

final as (

    select
        job_id,
        category_id,
        revenue_class,
        min(category_name) as category_name,
        min(category_kind) as category_kind,
        min(revenue_group) as revenue_group,
        count(*) as line_count,
        cast(sum(amount) as numeric(18, 2)) as amount
    from lines
    group by job_id, category_id, revenue_class

)

select * from final
