-- the jobs load_quickbooks must create or update in QuickBooks as sub-customers of their
-- customer (Job = true, ParentRef, BillWithParent), when job-level costing is on
-- (var jobs_as_subcustomers). A job whose customer is not in QuickBooks yet waits
-- (waiting_on = 'customer'). Links come from the ledger or the job's qbo_id only: a
-- job is never matched by name. waiting_on is as of this build: the loader resolves the
-- parent again from the ledger, so a customer it created earlier in the run counts; the
-- payload hash names the parent by its operations id, so linking it later changes nothing.
with

jobs as (

    select * from {{ ref('stg_ops__jobs') }}

),

customers as (

    select * from {{ ref('int_customers_matched') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

job_ledger as (

    select * from ledger
    where entity = 'job'

),

payloads as (

    select
        jobs.job_id as ops_job_id,
        jobs.customer_id as ops_customer_id,
        -- the job number is unique in operations; a short description makes it readable
        left(trim(jobs.job_number || ' ' || coalesce(jobs.job_type, '')), 100) as display_name,
        customers.qbo_customer_id as parent_qbo_customer_id,
        jobs.job_status not in ('cancelled') as is_active
    from jobs
    left join customers
        on jobs.customer_id = customers.ops_customer_id
    where not jobs.is_deleted and {{ var('jobs_as_subcustomers') }}

),

hashed as (

    select
        payloads.*,
        {{ fb_hash([
            'payloads.display_name',
            'payloads.ops_customer_id',
            'payloads.is_active',
        ]) }} as payload_hash
    from payloads

),

decided as (

    select
        hashed.ops_job_id,
        hashed.ops_customer_id,
        case
            when coalesce(job_ledger.qbo_id, jobs.qbo_id) is null then 'create'
            else 'update'
        end as action,
        coalesce(job_ledger.qbo_id, jobs.qbo_id) as qbo_id,
        qbo_customers.sync_token as qbo_sync_token,
        hashed.display_name,
        hashed.parent_qbo_customer_id,
        hashed.is_active,
        hashed.payload_hash,
        case when hashed.parent_qbo_customer_id is null then 'customer' end as waiting_on,
        case
            when job_ledger.ops_id is null and jobs.qbo_id is null then 'new'
            when job_ledger.ops_id is null then 'matched'
            when job_ledger.state in ('pending', 'failed') then 'retry'
            when coalesce(job_ledger.payload_hash, '') <> hashed.payload_hash then 'changed'
        end as reason
    from hashed
    inner join jobs
        on hashed.ops_job_id = jobs.job_id
    left join job_ledger
        on hashed.ops_job_id = job_ledger.ops_id
    left join qbo_customers
        on coalesce(job_ledger.qbo_id, jobs.qbo_id) = qbo_customers.qbo_customer_id

)

select * from decided
where reason is not null
