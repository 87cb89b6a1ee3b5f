-- a table, not ephemeral: read by six marts and the tax comparison (PostgreSQL misplans the inlined CTEs)
{{ config(materialized='table') }}

-- which QuickBooks invoice each live operations invoice is: the sync ledger's qbo_id,
-- else the ops qbo_id column, else the one live QuickBooks invoice whose DocNumber is the
-- invoice number (the marker a create leaves, found again after a crash).
-- A QuickBooks invoice claimed by several ops invoices stays with the strongest link.
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

invoice_ledger as (

    select
        ops_id,
        qbo_id
    from ledger
    where entity = 'invoice' and qbo_id is not null

),

crosswalk as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        coalesce(invoice_ledger.qbo_id, ops_invoices.qbo_id) as qbo_invoice_id,
        case when invoice_ledger.qbo_id is not null then 'crosswalk' else 'qbo_id' end as link_method
    from ops_invoices
    left join invoice_ledger
        on ops_invoices.invoice_id = invoice_ledger.ops_id
    where coalesce(invoice_ledger.qbo_id, ops_invoices.qbo_id) is not null

),

-- DocNumbers carried by exactly one live, unclaimed QuickBooks invoice
doc_numbers as (

    select
        qbo_invoices.doc_number,
        min(qbo_invoices.qbo_invoice_id) as qbo_invoice_id
    from qbo_invoices
    left join crosswalk
        on qbo_invoices.qbo_invoice_id = crosswalk.qbo_invoice_id
    where
        not qbo_invoices.is_deleted
        and qbo_invoices.doc_number is not null
        and crosswalk.qbo_invoice_id is null
    group by qbo_invoices.doc_number
    having count(*) = 1

),

links as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        ops_invoices.invoice_number,
        coalesce(crosswalk.qbo_invoice_id, doc_numbers.qbo_invoice_id) as qbo_invoice_id,
        coalesce(
            crosswalk.link_method,
            case when doc_numbers.qbo_invoice_id is not null then 'doc_number' end
        ) as link_method
    from ops_invoices
    left join crosswalk
        on ops_invoices.invoice_id = crosswalk.ops_invoice_id
    left join doc_numbers
        on ops_invoices.invoice_number = doc_numbers.doc_number
    where not ops_invoices.is_deleted

),

ranked as (

    select
        links.*,
        row_number() over (
            partition by links.qbo_invoice_id
            order by
                case links.link_method when 'crosswalk' then 1 when 'qbo_id' then 2 else 3 end,
                links.ops_invoice_id
        ) as claim_rank
    from links

),

final as (

    select
        ops_invoice_id,
        invoice_number,
        case when claim_rank = 1 then qbo_invoice_id end as qbo_invoice_id,
        case
            when qbo_invoice_id is null then null
            when claim_rank = 1 then link_method
            else 'duplicate_claim'
        end as link_method,
        case when claim_rank > 1 then qbo_invoice_id end as contested_qbo_invoice_id
    from ranked

)

select * from final
