-- the records changed in both systems since the last sync, with the entity's policy
-- (var conflict_policies) and what it decided: send_to_quickbooks (the record is in the
-- outbound set), apply_to_operations (in the edits set to operations) or hold (in
-- neither: validation raises an edited_in_quickbooks issue and a person decides).
-- Customers changed in both systems, and invoices a person edited in QuickBooks (an
-- invoice belongs to operations: ops_wins rewrites it, flag holds it). Jobs, vendors and
-- expenses are kept by operations whatever QuickBooks shows.
with

customers as (

    select * from {{ ref('int_customers_outbound') }}

),

invoices as (

    select * from {{ ref('int_invoices_edited_in_quickbooks') }}

),

final as (

    select
        'customer' as entity,
        cast(ops_customer_id as varchar) as ops_id,
        qbo_id,
        'operations and QuickBooks' as changed_in,
        changed_fields,
        ops_updated_at,
        qbo_updated_at,
        conflict_policy as policy,
        conflict_outcome as outcome
    from customers
    where reason = 'conflict'

    union all

    select
        'invoice' as entity,
        cast(ops_invoice_id as varchar) as ops_id,
        qbo_invoice_id as qbo_id,
        'QuickBooks' as changed_in,
        changed_fields,
        ops_updated_at,
        qbo_updated_at,
        conflict_policy as policy,
        case conflict_policy when 'flag' then 'hold' else 'send_to_quickbooks' end as outcome
    from invoices

)

select * from final
