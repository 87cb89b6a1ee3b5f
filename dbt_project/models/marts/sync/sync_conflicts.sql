-- the records changed in both systems since the last sync, with the entity's policy
-- (var conflict_policies) and what it decided: send_to_quickbooks (the record is in the
-- outbound set), apply_to_operations (in the edits set to operations) or hold (in
-- neither: validation raises an edited_in_quickbooks issue and a person decides).
-- Customers only so far: invoices edited in QuickBooks are the loaders' rule, and jobs,
-- vendors and expenses are kept by operations (ops_wins) whatever QuickBooks shows.
with

customers as (

    select * from {{ ref('int_customers_outbound') }}

),

final as (

    select
        'customer' as entity,
        ops_customer_id as ops_id,
        qbo_id,
        changed_fields,
        ops_updated_at,
        qbo_updated_at,
        conflict_policy as policy,
        conflict_outcome as outcome
    from customers
    where reason = 'conflict'

)

select * from final
