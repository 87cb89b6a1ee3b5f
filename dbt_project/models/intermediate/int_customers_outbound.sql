-- the customers load_quickbooks must create, link or update in QuickBooks.
-- no ledger row: create (to_create), link (matched by email or name), or held
--   (ambiguous: listed with its candidates so validation raises an issue, never written);
-- ledger row: update (or create again) when the payload changed or the last push is
--   pending/failed; unchanged and sent/confirmed: not listed.
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
        not ops_customers.is_tax_exempt as taxable
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

decided as (

    select
        hashed.ops_customer_id,
        case
            when matches.resolution = 'ambiguous' then 'link'
            when customer_ledger.ops_id is null and matches.resolution = 'linked' then 'link'
            when matches.qbo_customer_id is null then 'create'
            when customer_ledger.qbo_id is null then 'link'
            else 'update'
        end as action,
        matches.resolution,
        matches.match_method,
        matches.candidate_qbo_ids,
        matches.qbo_customer_id as qbo_id,
        qbo_customers.sync_token as qbo_sync_token,
        hashed.display_name,
        hashed.given_name,
        hashed.family_name,
        hashed.company_name,
        hashed.email,
        hashed.phone,
        hashed.bill_line1,
        hashed.bill_city,
        hashed.bill_state,
        hashed.bill_postal_code,
        hashed.bill_country,
        hashed.taxable,
        hashed.payload_hash,
        case
            when customer_ledger.ops_id is null and matches.resolution = 'to_create' then 'new'
            when customer_ledger.ops_id is null then 'matched'
            when customer_ledger.state in ('pending', 'failed') then 'retry'
            when coalesce(customer_ledger.payload_hash, '') <> hashed.payload_hash then 'changed'
        end as reason
    from hashed
    inner join matches
        on hashed.ops_customer_id = matches.ops_customer_id
    left join customer_ledger
        on hashed.ops_customer_id = customer_ledger.ops_id
    left join qbo_customers
        on matches.qbo_customer_id = qbo_customers.qbo_customer_id

)

select * from decided
where reason is not null
