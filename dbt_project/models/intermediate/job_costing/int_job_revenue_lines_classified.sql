-- every live line of a billed invoice (neither draft nor void) of a live job, classified for
-- the job's books: revenue, a reimbursable permit, a maintenance-agreement sale (deferred and
-- recognised over the agreement's term) or warranty work (not revenue)
with

jobs as (

    select
        job_id,
        agreement_id,
        is_warranty
    from {{ ref('stg_ops__jobs') }}
    where not is_deleted

),

invoices as (

    select
        invoice_id,
        job_id,
        issue_date
    from {{ ref('stg_ops__invoices') }}
    where
        not is_deleted
        and status not in ('draft', 'void')
        and job_id is not null

),

lines as (

    select
        invoice_line_id,
        invoice_id,
        category_id,
        item_id,
        amount
    from {{ ref('stg_ops__invoice_lines') }}
    where not is_deleted

),

categories as (

    select
        category_id,
        category_name,
        category_kind
    from {{ ref('stg_ops__service_categories') }}

),

items as (

    select
        item_id,
        item_name
    from {{ ref('stg_ops__price_book_items') }}

),

agreements as (

    select
        agreement_id,
        plan_name
    from {{ ref('stg_ops__maintenance_agreements') }}
    where not is_deleted

),

classified as (

    select
        lines.invoice_line_id,
        lines.invoice_id,
        invoices.job_id,
        invoices.issue_date,
        lines.category_id,
        categories.category_name,
        categories.category_kind,
        lines.amount,
        case categories.category_kind
            when 'service' then 'service'
            when 'equipment' then 'equipment'
            when 'material' then 'materials'
            when 'subcontract' then 'subcontract'
            when 'fee' then 'fees'
            when 'discount' then 'discounts'
            when 'permit' then 'permits'
            else 'other'
        end as revenue_group,
        -- order matters: a permit stays a pass-through even on warranty work
        case
            when categories.category_kind = 'permit' then 'permit_reimbursable'
            when jobs.is_warranty then 'warranty'
            when agreements.agreement_id is not null then 'agreement_deferred'
            else 'revenue'
        end as revenue_class
    from lines
    inner join invoices
        on lines.invoice_id = invoices.invoice_id
    inner join jobs
        on invoices.job_id = jobs.job_id
    left join categories
        on lines.category_id = categories.category_id
    left join items
        on lines.item_id = items.item_id
    -- the plan itself: the line selling the price-book item named like the job's agreement
    left join agreements
        on
            jobs.agreement_id = agreements.agreement_id
            and items.item_name = agreements.plan_name

)

select * from classified
