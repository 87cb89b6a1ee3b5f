-- which QuickBooks customer each live operations customer is (or would be) linked to:
-- 1. crosswalk: the sync ledger's qbo_id, else the ops qbo_id column
-- 2. email (trimmed, case-insensitive) among live QuickBooks customers no crosswalk claims
-- 3. normalised display name among the same
-- exactly one candidate links; several are ambiguous (held for a person); none is to_create
with

ops_customers as (

    select * from {{ ref('stg_ops__customers') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

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
crosswalk as (

    select
        ops_customers.customer_id as ops_customer_id,
        coalesce(customer_ledger.qbo_id, ops_customers.qbo_id) as qbo_customer_id
    from ops_customers
    left join customer_ledger
        on ops_customers.customer_id = customer_ledger.ops_id
    where coalesce(customer_ledger.qbo_id, ops_customers.qbo_id) is not null

),

unclaimed_qbo_customers as (

    select
        qbo_customers.qbo_customer_id,
        lower(trim(qbo_customers.email)) as match_email,
        {{ fb_normalize_name('qbo_customers.display_name') }} as match_name
    from qbo_customers
    left join crosswalk
        on qbo_customers.qbo_customer_id = crosswalk.qbo_customer_id
    where
        not qbo_customers.is_deleted
        and qbo_customers.is_active
        and crosswalk.qbo_customer_id is null

),

unlinked_ops_customers as (

    select
        ops_customers.customer_id as ops_customer_id,
        nullif(lower(trim(ops_customers.email)), '') as match_email,
        nullif({{ fb_normalize_name('ops_customers.display_name') }}, '') as match_name
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

-- names are only tried for customers no email matched
name_candidates as (

    select
        unlinked_ops_customers.ops_customer_id,
        unclaimed_qbo_customers.qbo_customer_id,
        'name' as match_method
    from unlinked_ops_customers
    inner join unclaimed_qbo_customers
        on unlinked_ops_customers.match_name = unclaimed_qbo_customers.match_name
    left join email_candidates
        on unlinked_ops_customers.ops_customer_id = email_candidates.ops_customer_id
    where email_candidates.ops_customer_id is null

),

candidates as (

    select * from email_candidates
    union all
    select * from name_candidates

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
        case
            when crosswalk.qbo_customer_id is not null then 'crosswalk'
            else candidate_sets.match_method
        end as match_method,
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
