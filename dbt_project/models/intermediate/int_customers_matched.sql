-- which QuickBooks customer each live operations customer is (or would be) linked to,
-- the first rule that finds candidates deciding:
-- 1. crosswalk: the sync ledger's qbo_id, else the ops qbo_id column
-- 2. manual link: a row of the map_customer_links seed (an accountant's decision)
-- 3. email (trimmed, case-insensitive)
-- 4. normalised display name plus billing address (first line and postal code)
-- 5. phone (its last ten digits)
-- among live QuickBooks customers (not jobs) that no crosswalk or manual link claims.
-- Exactly one candidate links; several are ambiguous (held for a person, candidates
-- named); none is to_create.
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

-- deleted ops customers keep their claim: their QuickBooks customer is nobody else's
ledger_links as (

    select
        ops_customers.customer_id as ops_customer_id,
        coalesce(customer_ledger.qbo_id, ops_customers.qbo_id) as qbo_customer_id,
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
        manual_links.ops_customer_id,
        manual_links.qbo_customer_id,
        'manual' as link_method
    from manual_links
    left join ledger_links
        on manual_links.ops_customer_id = ledger_links.ops_customer_id
    where ledger_links.ops_customer_id is null

),

unclaimed_qbo_customers as (

    select
        qbo_customers.qbo_customer_id,
        lower(trim(qbo_customers.email)) as match_email,
        {{ fb_normalize_name('qbo_customers.display_name') }} as match_name,
        {{ fb_normalize_name('qbo_customers.bill_line1') }}
        || '|' || {{ fb_normalize_name('qbo_customers.bill_postal_code') }} as match_address,
        right(regexp_replace(qbo_customers.phone, '[^0-9]', '', 'g'), 10) as match_phone
    from qbo_customers
    left join crosswalk
        on qbo_customers.qbo_customer_id = crosswalk.qbo_customer_id
    where
        not qbo_customers.is_deleted
        and qbo_customers.is_active
        and not coalesce(qbo_customers.is_job, false)
        and crosswalk.qbo_customer_id is null

),

unlinked_ops_customers as (

    select
        ops_customers.customer_id as ops_customer_id,
        nullif(lower(trim(ops_customers.email)), '') as match_email,
        nullif({{ fb_normalize_name('ops_customers.display_name') }}, '') as match_name,
        -- null unless both the first line and the postal code are there
        nullif({{ fb_normalize_name('ops_customers.bill_line1') }}, '')
        || '|' || nullif({{ fb_normalize_name('ops_customers.bill_postal_code') }}, '')
            as match_address,
        case
            when length(regexp_replace(ops_customers.phone, '[^0-9]', '', 'g')) >= 7
                then right(regexp_replace(ops_customers.phone, '[^0-9]', '', 'g'), 10)
        end as match_phone
    from ops_customers
    left join crosswalk
        on ops_customers.customer_id = crosswalk.ops_customer_id
    where not ops_customers.is_deleted and crosswalk.ops_customer_id is null

),

email_candidates as (

    select
        unlinked_ops_customers.ops_customer_id,
        unclaimed_qbo_customers.qbo_customer_id,
        'email' as match_method
    from unlinked_ops_customers
    inner join unclaimed_qbo_customers
        on unlinked_ops_customers.match_email = unclaimed_qbo_customers.match_email

),

-- each later rule is only tried for customers no earlier rule found a candidate for
name_candidates as (

    select
        unlinked_ops_customers.ops_customer_id,
        unclaimed_qbo_customers.qbo_customer_id,
        'name_address' as match_method
    from unlinked_ops_customers
    inner join unclaimed_qbo_customers
        on
            unlinked_ops_customers.match_name = unclaimed_qbo_customers.match_name
            and unlinked_ops_customers.match_address = unclaimed_qbo_customers.match_address
    left join email_candidates
        on unlinked_ops_customers.ops_customer_id = email_candidates.ops_customer_id
    where email_candidates.ops_customer_id is null

),

phone_candidates as (

    select
        unlinked_ops_customers.ops_customer_id,
        unclaimed_qbo_customers.qbo_customer_id,
        'phone' as match_method
    from unlinked_ops_customers
    inner join unclaimed_qbo_customers
        on unlinked_ops_customers.match_phone = unclaimed_qbo_customers.match_phone
    left join email_candidates
        on unlinked_ops_customers.ops_customer_id = email_candidates.ops_customer_id
    left join name_candidates
        on unlinked_ops_customers.ops_customer_id = name_candidates.ops_customer_id
    where
        email_candidates.ops_customer_id is null
        and name_candidates.ops_customer_id is null

),

candidates as (

    select * from email_candidates
    union all
    select * from name_candidates
    union all
    select * from phone_candidates

),

candidate_sets as (

    select
        ops_customer_id,
        min(match_method) as match_method,
        count(*) as candidate_count,
        min(qbo_customer_id) as first_candidate,
        {{ fb_list_agg('qbo_customer_id') }} as candidate_qbo_ids
    from candidates
    group by ops_customer_id

),

-- one QuickBooks customer that is the only candidate of several ops customers links none of them
contested as (

    select first_candidate as qbo_customer_id
    from candidate_sets
    where candidate_count = 1
    group by first_candidate
    having count(*) > 1

),

matched as (

    select
        ops_customers.customer_id as ops_customer_id,
        case
            when crosswalk.qbo_customer_id is not null then 'linked'
            when candidate_sets.candidate_count = 1 and contested.qbo_customer_id is null then 'linked'
            when candidate_sets.candidate_count >= 1 then 'ambiguous'
            else 'to_create'
        end as resolution,
        coalesce(crosswalk.link_method, candidate_sets.match_method) as match_method,
        case
            when crosswalk.qbo_customer_id is not null then crosswalk.qbo_customer_id
            when candidate_sets.candidate_count = 1 and contested.qbo_customer_id is null
                then candidate_sets.first_candidate
        end as qbo_customer_id,
        coalesce(crosswalk.qbo_customer_id, candidate_sets.candidate_qbo_ids) as candidate_qbo_ids,
        case
            when crosswalk.qbo_customer_id is not null then 1
            else coalesce(candidate_sets.candidate_count, 0)
        end as candidate_count
    from ops_customers
    left join crosswalk
        on ops_customers.customer_id = crosswalk.ops_customer_id
    left join candidate_sets
        on ops_customers.customer_id = candidate_sets.ops_customer_id
    left join contested
        on candidate_sets.first_candidate = contested.qbo_customer_id
    where not ops_customers.is_deleted

)

select * from matched
