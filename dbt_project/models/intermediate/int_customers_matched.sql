-- which QuickBooks customer each live operations customer is (or would be) linked to,
-- the first rule that finds candidates deciding:
-- 1. crosswalk: the sync ledger's qbo_id, else the ops qbo_id column
-- 2. manual link: a row of the map_customer_links seed (an accountant's decision)
-- 3. email (trimmed, case-insensitive)
-- 4. normalised display name plus billing address (first line and postal code)
-- 5. phone (its last ten digits)
-- among live QuickBooks customers (not jobs) that no crosswalk or manual link claims.
-- Exactly one candidate links; several are ambiguous (held for a person, candidates
-- named); none is to_create. The cascade is shared with vendors (macros/fb_match_candidates.sql).
with

ops_customers as (

    select * from {{ ref('stg_ops__customers') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

manual_links as (

    select
        cast(ops_customer_id as varchar) as ops_customer_id,
        cast(qbo_customer_id as varchar) as qbo_customer_id
    from {{ ref('map_customer_links') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

customer_ledger as (

    select
        ops_id,
        qbo_id
    from ledger
    where entity = 'customer' and qbo_id is not null

),

parties as (

    select
        customer_id as party_id,
        is_deleted
    from ops_customers

),

-- deleted ops customers keep their claim: their QuickBooks customer is nobody else's
ledger_links as (

    select
        ops_customers.customer_id as party_id,
        coalesce(customer_ledger.qbo_id, ops_customers.qbo_id) as qbo_id,
        'crosswalk' as link_method
    from ops_customers
    left join customer_ledger
        on ops_customers.customer_id = customer_ledger.ops_id
    where coalesce(customer_ledger.qbo_id, ops_customers.qbo_id) is not null

),

-- a manual link counts for customers the ledger has not linked yet
crosswalk as (

    select * from ledger_links

    union all

    select
        manual_links.ops_customer_id as party_id,
        manual_links.qbo_customer_id as qbo_id,
        'manual' as link_method
    from manual_links
    left join ledger_links
        on manual_links.ops_customer_id = ledger_links.party_id
    where ledger_links.party_id is null

),

unclaimed as (

    select
        qbo_customers.qbo_customer_id as qbo_id,
        {{ fb_party_match_keys(
            'qbo_customers', 'email', 'display_name', 'bill_line1', 'bill_postal_code', 'phone'
        ) }}
    from qbo_customers
    left join crosswalk
        on qbo_customers.qbo_customer_id = crosswalk.qbo_id
    where
        not qbo_customers.is_deleted
        and qbo_customers.is_active
        and not coalesce(qbo_customers.is_job, false)
        and crosswalk.qbo_id is null

),

unlinked as (

    select
        ops_customers.customer_id as party_id,
        {{ fb_party_match_keys(
            'ops_customers', 'email', 'display_name', 'bill_line1', 'bill_postal_code', 'phone'
        ) }}
    from ops_customers
    left join crosswalk
        on ops_customers.customer_id = crosswalk.party_id
    where not ops_customers.is_deleted and crosswalk.party_id is null

),

{{ fb_match_candidates('unlinked', 'unclaimed') }},

{{ fb_resolve_matches('parties', 'crosswalk') }},

renamed as (

    select
        party_id as ops_customer_id,
        resolution,
        match_method,
        qbo_id as qbo_customer_id,
        candidate_qbo_ids,
        candidate_count
    from matched

)

select * from renamed
