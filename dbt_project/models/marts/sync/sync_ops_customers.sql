-- the customer edits made in QuickBooks that load_ops applies to operations: a linked
-- customer whose QuickBooks SyncToken moved since fieldbooks last wrote it and whose
-- fields now differ from operations', when operations did not change it too (reason
-- edited_in_quickbooks), or did and the customer policy gives QuickBooks the win
-- (reason conflict). The values are QuickBooks'; changed_fields names the ones to write.
-- action record: QuickBooks changed only what operations does not keep (its notes, say);
-- nothing is written to operations, the ledger takes QuickBooks' SyncToken so that a
-- later operations edit is not mistaken for a conflict.
with

customers as (

    select * from {{ ref('int_customers_outbound') }}

),

edits as (

    select
        ops_customer_id,
        case when changed_fields is null then 'record' else 'update' end as action,
        qbo_id,
        qbo_sync_token,
        case when reason = 'conflict' then 'conflict' else 'edited_in_quickbooks' end as reason,
        changed_fields,
        qbo_display_name as display_name,
        qbo_given_name as given_name,
        qbo_family_name as family_name,
        qbo_company_name as company_name,
        qbo_email as email,
        qbo_phone as phone,
        qbo_bill_line1 as bill_line1,
        qbo_bill_city as bill_city,
        qbo_bill_state as bill_state,
        qbo_bill_postal_code as bill_postal_code,
        qbo_bill_country as bill_country,
        cast(qbo_tax_exempt as boolean) as is_tax_exempt,
        qbo_updated_at,
        ops_updated_at,
        qbo_payload_hash as ops_payload_hash_after
    from customers
    where
        is_edited_in_quickbooks
        and (
            reason is null
            or (reason = 'conflict' and conflict_outcome = 'apply_to_operations')
        )

),

final as (

    select
        edits.*,
        {{ fb_hash([
            'edits.qbo_id',
            'edits.qbo_sync_token',
            'edits.display_name',
            'edits.given_name',
            'edits.family_name',
            'edits.company_name',
            'edits.email',
            'edits.phone',
            'edits.bill_line1',
            'edits.bill_city',
            'edits.bill_state',
            'edits.bill_postal_code',
            'edits.bill_country',
            'edits.is_tax_exempt',
        ]) }} as payload_hash
    from edits

)

select * from final
