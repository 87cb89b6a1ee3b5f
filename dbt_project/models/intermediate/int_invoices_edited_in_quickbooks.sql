-- invoices fieldbooks wrote that a person has since edited in QuickBooks: the SyncToken
-- moved past the one the ledger recorded at our last write, and what fieldbooks sends
-- (the customer, the dates, and each line's item, quantity, unit price and amount) no
-- longer matches operations. A payment applied in QuickBooks moves the SyncToken too
-- but changes none of that, so it is not an edit. The invoice's policy
-- (conflict_policies.invoice) decides in sync_qbo_invoices: ops_wins rewrites it, flag
-- holds it for a person (sync_conflicts, an edited_in_quickbooks issue).
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}

),

ops_lines as (

    select * from {{ ref('int_invoice_lines_mapped') }}

),

links as (

    select * from {{ ref('int_invoices_linked') }}

),

customers as (

    select * from {{ ref('int_customers_matched') }}

),

qbo_invoices as (

    select * from {{ ref('stg_qbo__invoices') }}

),

qbo_lines as (

    select * from {{ ref('stg_qbo__invoice_lines') }}
    where detail_type = 'SalesItemLineDetail'

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}
    where entity = 'invoice' and state in ('sent', 'confirmed')

),

ops_signatures as (

    select
        ops_invoice_id,
        {{ fb_invoice_lines_signature() }} as lines_signature
    from ops_lines
    group by ops_invoice_id

),

qbo_signatures as (

    select
        qbo_invoice_id,
        {{ fb_invoice_lines_signature() }} as lines_signature
    from qbo_lines
    group by qbo_invoice_id

),

compared as (

    select
        ops_invoices.invoice_id as ops_invoice_id,
        qbo_invoices.qbo_invoice_id,
        qbo_invoices.sync_token as qbo_sync_token,
        ledger.sync_token as ledger_sync_token,
        ops_invoices.updated_at as ops_updated_at,
        qbo_invoices.last_updated_at as qbo_updated_at,
        concat_ws(
            ', ',
            -- (a customer not yet in QuickBooks cannot be told apart: not an edit)
            case
                when customers.qbo_customer_id <> qbo_invoices.qbo_customer_id
                    then 'customer'
            end,
            case when ops_invoices.issue_date <> qbo_invoices.txn_date then 'txn_date' end,
            case
                when ops_invoices.due_date is distinct from qbo_invoices.due_date
                    then 'due_date'
            end,
            case
                when ops_signatures.lines_signature is distinct from qbo_signatures.lines_signature
                    then 'lines'
            end
        ) as changed_fields
    from ops_invoices
    inner join ledger
        on cast(ops_invoices.invoice_id as varchar) = ledger.ops_id
    inner join links
        on ops_invoices.invoice_id = links.ops_invoice_id
    inner join qbo_invoices
        on links.qbo_invoice_id = qbo_invoices.qbo_invoice_id
    left join customers
        on ops_invoices.customer_id = customers.ops_customer_id
    left join ops_signatures
        on ops_invoices.invoice_id = ops_signatures.ops_invoice_id
    left join qbo_signatures
        on qbo_invoices.qbo_invoice_id = qbo_signatures.qbo_invoice_id
    where
        not qbo_invoices.is_deleted
        and not qbo_invoices.is_voided
        and not ops_invoices.is_deleted
        and ops_invoices.status not in ('draft', 'void')
        and ledger.sync_token is distinct from qbo_invoices.sync_token

),

final as (

    select
        ops_invoice_id,
        qbo_invoice_id,
        qbo_sync_token,
        ledger_sync_token,
        ops_updated_at,
        qbo_updated_at,
        changed_fields,
        '{{ fb_conflict_policy("invoice") }}' as conflict_policy
    from compared
    where changed_fields <> ''

)

select * from final
