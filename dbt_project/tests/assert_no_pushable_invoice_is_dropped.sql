-- nothing is dropped silently: every live operations invoice that is neither draft nor
-- void is either in the outbound set or already pushed (ledger sent/confirmed)
with

ops_invoices as (

    select * from {{ ref('stg_ops__invoices') }}
    where not is_deleted and status not in ('draft', 'void')

),

outbound as (

    select ops_invoice_id from {{ ref('sync_qbo_invoices') }}

),

pushed as (

    select ops_id from {{ ref('stg_fieldbooks__sync_ledger') }}
    where entity = 'invoice' and state in ('sent', 'confirmed')

)

select ops_invoices.invoice_id
from ops_invoices
left join outbound
    on ops_invoices.invoice_id = outbound.ops_invoice_id
left join pushed
    on ops_invoices.invoice_id = pushed.ops_id
where outbound.ops_invoice_id is null and pushed.ops_id is null
