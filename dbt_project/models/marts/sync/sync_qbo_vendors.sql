-- the vendors load_quickbooks must create, link or update in QuickBooks (as customers:
-- create when nothing matches, link a single match, hold an ambiguous one for a person,
-- update when the payload changed or the last push is pending/failed).
-- QuickBooks wants one DisplayName across customers, vendors and employees: a vendor
-- whose normalised name is also a customer's (in operations or QuickBooks) is sent as
-- "<name> (vendor)"; the customer keeps the plain name (DECISIONLOG: shared names).
with

ops_vendors as (

    select * from {{ ref('stg_ops__vendors') }}

),

matches as (

    select * from {{ ref('int_vendors_matched') }}

),

qbo_vendors as (

    select * from {{ ref('stg_qbo__vendors') }}

),

ops_customers as (

    select * from {{ ref('stg_ops__customers') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

vendor_ledger as (

    select * from ledger
    where entity = 'vendor'

),

customer_names as (

    select {{ fb_normalize_name('display_name') }} as match_name
    from ops_customers
    where not is_deleted

    union

    select {{ fb_normalize_name('display_name') }} as match_name
    from qbo_customers
    where not is_deleted

),

payloads as (

    select
        ops_vendors.vendor_id as ops_vendor_id,
        case
            when customer_names.match_name is not null
                then ops_vendors.display_name || ' (vendor)'
            else ops_vendors.display_name
        end as display_name,
        customer_names.match_name is not null as is_renamed_for_customer,
        -- checks are still made out to the real name
        ops_vendors.display_name as print_on_check_name,
        ops_vendors.company_name,
        ops_vendors.email,
        ops_vendors.phone,
        ops_vendors.line1 as bill_line1,
        ops_vendors.city as bill_city,
        ops_vendors.state as bill_state,
        ops_vendors.postal_code as bill_postal_code,
        ops_vendors.is_1099,
        ops_vendors.is_active
    from ops_vendors
    left join customer_names
        on {{ fb_normalize_name('ops_vendors.display_name') }} = customer_names.match_name
    where not ops_vendors.is_deleted

),

hashed as (

    select
        payloads.*,
        {{ fb_hash([
            'payloads.display_name',
            'payloads.print_on_check_name',
            'payloads.company_name',
            'payloads.email',
            'payloads.phone',
            'payloads.bill_line1',
            'payloads.bill_city',
            'payloads.bill_state',
            'payloads.bill_postal_code',
            'payloads.is_1099',
            'payloads.is_active',
        ]) }} as payload_hash
    from payloads

),

decided as (

    select
        hashed.ops_vendor_id,
        case
            when matches.resolution = 'ambiguous' then 'link'
            when vendor_ledger.ops_id is null and matches.resolution = 'linked' then 'link'
            when matches.qbo_vendor_id is null then 'create'
            when vendor_ledger.qbo_id is null then 'link'
            else 'update'
        end as action,
        matches.resolution,
        matches.match_method,
        matches.candidate_qbo_ids,
        matches.qbo_vendor_id as qbo_id,
        qbo_vendors.sync_token as qbo_sync_token,
        hashed.display_name,
        hashed.is_renamed_for_customer,
        hashed.print_on_check_name,
        hashed.company_name,
        hashed.email,
        hashed.phone,
        hashed.bill_line1,
        hashed.bill_city,
        hashed.bill_state,
        hashed.bill_postal_code,
        hashed.is_1099,
        hashed.is_active,
        hashed.payload_hash,
        case
            when vendor_ledger.ops_id is null and matches.resolution = 'to_create' then 'new'
            when vendor_ledger.ops_id is null then 'matched'
            when vendor_ledger.state in ('pending', 'failed') then 'retry'
            when coalesce(vendor_ledger.payload_hash, '') <> hashed.payload_hash then 'changed'
        end as reason
    from hashed
    inner join matches
        on hashed.ops_vendor_id = matches.ops_vendor_id
    left join vendor_ledger
        on hashed.ops_vendor_id = vendor_ledger.ops_id
    left join qbo_vendors
        on matches.qbo_vendor_id = qbo_vendors.qbo_vendor_id

)

select * from decided
where reason is not null
