-- the invoices load_quickbooks must create or update in QuickBooks: live operations
-- invoices that are neither draft nor void, with no ledger row (create, or update when
-- the invoice is already in QuickBooks under its DocNumber), a changed payload, or a
-- push left pending/failed. payload_hash covers what is pushed (header and lines),
-- not balance or status, which QuickBooks owns once the invoice is there. An invoice a
-- person edited in QuickBooks (int_invoices_edited_in_quickbooks) is rewritten under
-- conflict_policies.invoice = ops_wins (reason edited_in_quickbooks, rewrite_of = the
-- SyncToken it overwrites) and left out under flag (held: sync_conflicts).
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

lines as (

    select * from {{ ref('int_invoice_lines_mapped') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

customers as (

    select * from {{ ref('int_customers_matched') }}

),

tax_map as (

    -- a proposal `fieldbooks mapping suggest` wrote is used once a person reviewed it
    select * from {{ ref('map_tax_jurisdictions') }}
    where reviewed

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

invoice_ledger as (

    select * from ledger
    where entity = 'invoice'

),

edits as (

    select * from {{ ref('int_invoices_edited_in_quickbooks') }}

),

line_rollups as (

    select
        ops_invoice_id,
        count(*) as line_count,
        sum(case when is_mapped then 0 else 1 end) as unmapped_line_count,
        sum(amount) as lines_total,
        max(case when is_taxable then 1 else 0 end) = 1 as has_taxable_line,
        string_agg(
            {{ fb_hash([
                'line_number',
                'category_id',
                'qbo_item_id',
                'description',
                'quantity',
                'unit_price',
                'amount',
                'tax_code',
            ]) }},
            ',' order by line_number, ops_line_id
        ) as lines_signature
    from lines
    group by ops_invoice_id

),

pushable as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        ops_invoices.invoice_number as doc_number,
        ops_invoices.customer_id as ops_customer_id,
        customers.qbo_customer_id as customer_qbo_id,
        coalesce(customers.resolution, 'to_create') as customer_resolution,
        ops_invoices.issue_date as txn_date,
        ops_invoices.due_date,
        case when line_rollups.has_taxable_line then tax_map.qbo_tax_code_id end as tax_code_id,
        ops_invoices.subtotal,
        ops_invoices.tax,
        ops_invoices.total,
        coalesce(line_rollups.line_count, 0) as line_count,
        coalesce(line_rollups.unmapped_line_count, 0) as unmapped_line_count,
        cast(coalesce(line_rollups.lines_total, 0) as numeric(18, 2)) as lines_total,
        'fieldbooks:invoice:' || ops_invoices.invoice_id as private_note,
        line_rollups.lines_signature,
        links.qbo_invoice_id
    from ops_invoices
    left join line_rollups
        on ops_invoices.invoice_id = line_rollups.ops_invoice_id
    left join customers
        on ops_invoices.customer_id = customers.ops_customer_id
    left join tax_map
        on ops_invoices.tax_jurisdiction = tax_map.tax_jurisdiction
    left join links
        on ops_invoices.invoice_id = links.ops_invoice_id
    where
        not ops_invoices.is_deleted
        and ops_invoices.status not in ('draft', 'void')

),

hashed as (

    select
        pushable.*,
        {{ fb_hash([
            'pushable.doc_number',
            'pushable.ops_customer_id',
            'pushable.txn_date',
            'pushable.due_date',
            'pushable.tax_code_id',
            'pushable.subtotal',
            'pushable.tax',
            'pushable.total',
            'pushable.private_note',
            'pushable.lines_signature',
        ]) }} as payload_hash
    from pushable

),

decided as (

    select
        hashed.ops_invoice_id,
        case when hashed.qbo_invoice_id is null then 'create' else 'update' end as action,
        hashed.qbo_invoice_id as qbo_id,
        qbo_invoices.sync_token as qbo_sync_token,
        hashed.doc_number,
        hashed.ops_customer_id,
        hashed.customer_qbo_id,
        hashed.customer_resolution,
        hashed.txn_date,
        hashed.due_date,
        hashed.tax_code_id,
        hashed.subtotal,
        hashed.tax,
        hashed.total,
        hashed.line_count,
        hashed.unmapped_line_count,
        hashed.lines_total,
        hashed.private_note,
        hashed.payload_hash,
        edits.changed_fields,
        edits.conflict_policy,
        case when edits.ops_invoice_id is not null then edits.qbo_sync_token end as rewrite_of,
        case
            when invoice_ledger.ops_id is null then 'new'
            when invoice_ledger.state in ('pending', 'failed') then 'retry'
            when coalesce(invoice_ledger.payload_hash, '') <> hashed.payload_hash then 'changed'
            when edits.ops_invoice_id is not null then 'edited_in_quickbooks'
        end as reason
    from hashed
    left join invoice_ledger
        on hashed.ops_invoice_id = invoice_ledger.ops_id
    left join qbo_invoices
        on hashed.qbo_invoice_id = qbo_invoices.qbo_invoice_id
    left join edits
        on hashed.ops_invoice_id = edits.ops_invoice_id

)

select * from decided
where
    reason is not null
    and coalesce(conflict_policy, 'ops_wins') = 'ops_wins'
