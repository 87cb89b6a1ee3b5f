-- the customers load_quickbooks must create, link or update in QuickBooks
-- (int_customers_outbound decides): every customer with a reason, except those changed on
-- both sides whose policy sends QuickBooks' version to operations or holds them.
-- changed_fields names what an update changes in QuickBooks.
with

customers as (

    select * from {{ ref('int_customers_outbound') }}

),

final as (

    select
        ops_customer_id,
        action,
        resolution,
        match_method,
        candidate_qbo_ids,
        qbo_id,
        qbo_sync_token,
        display_name,
        given_name,
        family_name,
        company_name,
        email,
        phone,
        bill_line1,
        bill_city,
        bill_state,
        bill_postal_code,
        bill_country,
        taxable,
        payload_hash,
        reason,
        changed_fields,
        conflict_policy
    from customers
    where
        reason is not null
        and coalesce(conflict_outcome, 'send_to_quickbooks') = 'send_to_quickbooks'

)

select * from final
