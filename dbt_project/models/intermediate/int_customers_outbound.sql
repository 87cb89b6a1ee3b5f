-- every live operations customer with what the sync must do with it, both ways, from
-- which the outbound set (sync_qbo_customers), the edits set to operations
-- (sync_ops_customers) and the conflicts (sync_conflicts) are cut.
-- no ledger row: create (to_create), link (matched by email or name), or held
--   (ambiguous: listed with its candidates so validation raises an issue, never written);
-- ledger row: update (or create again) when the payload changed or the last push is
--   pending/failed; unchanged and sent/confirmed: reason null.
-- is_edited_in_quickbooks: QuickBooks' SyncToken moved since the ledger's last write.
-- Changed on both sides and still different: reason 'conflict', and the customer
-- policy's conflict_outcome (once a person makes the two agree, it is an ordinary change).
-- changed_fields: the fields where operations and QuickBooks now differ (normalised as
-- the tie-out compares them), which an update to either side changes.
with

ops_customers as (

    select * from {{ ref('stg_ops__customers') }}

),

matches as (

    select * from {{ ref('int_customers_matched') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

customer_ledger as (

    select * from ledger
    where entity = 'customer'

),

qbo_values as (

    select
        qbo_customer_id,
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
        cast(not coalesce(is_taxable, true) as varchar) as tax_exempt
    from qbo_customers
    where not is_deleted

),

payloads as (

    select
        ops_customers.customer_id as ops_customer_id,
        ops_customers.display_name,
        ops_customers.given_name,
        ops_customers.family_name,
        ops_customers.company_name,
        ops_customers.email,
        ops_customers.phone,
        ops_customers.bill_line1,
        ops_customers.bill_city,
        ops_customers.bill_state,
        ops_customers.bill_postal_code,
        ops_customers.bill_country,
        not ops_customers.is_tax_exempt as taxable,
        cast(ops_customers.is_tax_exempt as varchar) as tax_exempt,
        ops_customers.updated_at as ops_updated_at
    from ops_customers
    where not ops_customers.is_deleted

),

hashed as (

    select
        payloads.*,
        {{ fb_hash([
            'payloads.display_name',
            'payloads.given_name',
            'payloads.family_name',
            'payloads.company_name',
            'payloads.email',
            'payloads.phone',
            'payloads.bill_line1',
            'payloads.bill_city',
            'payloads.bill_state',
            'payloads.bill_postal_code',
            'payloads.bill_country',
            'payloads.taxable',
        ]) }} as payload_hash
    from payloads

),

sides as (

    select
        hashed.*,
        matches.resolution,
        matches.match_method,
        matches.candidate_qbo_ids,
        matches.qbo_customer_id,
        customer_ledger.ops_id as ledger_ops_id,
        customer_ledger.qbo_id as ledger_qbo_id,
        customer_ledger.state as ledger_state,
        customer_ledger.payload_hash as ledger_payload_hash,
        qbo_customers.sync_token as qbo_sync_token,
        qbo_customers.last_updated_at as qbo_updated_at,
        coalesce(
            customer_ledger.state in ('sent', 'confirmed')
            and qbo_customers.qbo_customer_id is not null
            and {{ fb_is_edited_in_quickbooks('customer_ledger', 'qbo_customers') }},
            false
        ) as is_edited_in_quickbooks,
        {{ fb_changed_fields('hashed', 'qbo_values') }} as changed_fields,
        qbo_values.display_name as qbo_display_name,
        qbo_values.given_name as qbo_given_name,
        qbo_values.family_name as qbo_family_name,
        qbo_values.company_name as qbo_company_name,
        qbo_values.email as qbo_email,
        qbo_values.phone as qbo_phone,
        qbo_values.bill_line1 as qbo_bill_line1,
        qbo_values.bill_city as qbo_bill_city,
        qbo_values.bill_state as qbo_bill_state,
        qbo_values.bill_postal_code as qbo_bill_postal_code,
        qbo_values.bill_country as qbo_bill_country,
        qbo_values.tax_exempt as qbo_tax_exempt
    from hashed
    inner join matches
        on hashed.ops_customer_id = matches.ops_customer_id
    left join customer_ledger
        on hashed.ops_customer_id = customer_ledger.ops_id
    left join qbo_customers
        on matches.qbo_customer_id = qbo_customers.qbo_customer_id
    left join qbo_values
        on matches.qbo_customer_id = qbo_values.qbo_customer_id

),

decided as (

    select
        ops_customer_id,
        case
            when resolution = 'ambiguous' then 'link'
            when ledger_ops_id is null and resolution = 'linked' then 'link'
            when qbo_customer_id is null then 'create'
            when ledger_qbo_id is null then 'link'
            else 'update'
        end as action,
        resolution,
        match_method,
        candidate_qbo_ids,
        qbo_customer_id as qbo_id,
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
        tax_exempt,
        payload_hash,
        case
            when ledger_ops_id is null and resolution = 'to_create' then 'new'
            when ledger_ops_id is null then 'matched'
            when ledger_state in ('pending', 'failed') then 'retry'
            when
                coalesce(ledger_payload_hash, '') <> payload_hash
                and is_edited_in_quickbooks
                and changed_fields is not null
                then 'conflict'
            when coalesce(ledger_payload_hash, '') <> payload_hash then 'changed'
        end as reason,
        is_edited_in_quickbooks,
        changed_fields,
        ops_updated_at,
        qbo_updated_at,
        qbo_display_name,
        qbo_given_name,
        qbo_family_name,
        qbo_company_name,
        qbo_email,
        qbo_phone,
        qbo_bill_line1,
        qbo_bill_city,
        qbo_bill_state,
        qbo_bill_postal_code,
        qbo_bill_country,
        qbo_tax_exempt
    from sides

),

final as (

    select
        decided.*,
        '{{ fb_conflict_policy('customer') }}' as conflict_policy,
        case
            when decided.reason = 'conflict'
                then {{ fb_conflict_outcome('customer', 'decided.ops_updated_at', 'decided.qbo_updated_at') }}
        end as conflict_outcome
    from decided

)

select
    final.*,
    -- the payload hash operations will have once QuickBooks' version is written to it
    -- (load_ops records it in the ledger with QuickBooks' SyncToken)
    {{ fb_hash([
        'final.qbo_display_name',
        'final.qbo_given_name',
        'final.qbo_family_name',
        'final.qbo_company_name',
        'final.qbo_email',
        'final.qbo_phone',
        'final.qbo_bill_line1',
        'final.qbo_bill_city',
        'final.qbo_bill_state',
        'final.qbo_bill_postal_code',
        'final.qbo_bill_country',
        'not cast(final.qbo_tax_exempt as boolean)',
    ]) }} as qbo_payload_hash
from final
