-- every customer on either side, operations against QuickBooks, with the fields that
-- differ (customer_field_tieout has them one by one). ops side: live customers, linked
-- as int_customers_matched links them; QuickBooks side: live, active customers that are
-- not jobs (inactive is QuickBooks' delete for list entities).
-- A linked pair that differs takes the reason of its fields: edited_in_quickbooks,
-- pending or field_mismatch; several candidates make an operations customer ambiguous.
with

matches as (

    select * from {{ ref('int_customers_matched') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

field_tieout as (

    select * from {{ ref('customer_field_tieout') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

customer_ledger as (

    select
        ops_id,
        state
    from ledger
    where entity = 'customer'

),

live_qbo_customers as (

    select
        qbo_customer_id,
        display_name
    from qbo_customers
    where not is_deleted and is_active and not is_job

),

field_rollups as (

    select
        ops_customer_id,
        count(*) as field_count,
        sum(case when is_match then 0 else 1 end) as mismatched_field_count,
        string_agg(
            case when not is_match then field_name end, ',' order by field_name
        ) as mismatched_fields,
        max(case when not is_match then status end) as difference_status
    from field_tieout
    group by ops_customer_id

),

ops_side as (

    select
        matches.ops_customer_id,
        matches.resolution,
        matches.match_method,
        matches.candidate_qbo_ids,
        customer_ledger.state as ledger_state,
        -- a link to a QuickBooks customer that is gone (deleted or inactive) has no field rows
        case when field_rollups.ops_customer_id is not null then matches.qbo_customer_id end as qbo_customer_id,
        field_rollups.field_count,
        field_rollups.mismatched_field_count,
        field_rollups.mismatched_fields,
        field_rollups.difference_status
    from matches
    left join customer_ledger
        on matches.ops_customer_id = customer_ledger.ops_id
    left join field_rollups
        on matches.ops_customer_id = field_rollups.ops_customer_id

),

-- QuickBooks customers no operations customer is linked to (a crosswalk to a gone
-- QuickBooks customer still claims it)
unlinked_qbo as (

    select live_qbo_customers.qbo_customer_id
    from live_qbo_customers
    left join matches
        on
            live_qbo_customers.qbo_customer_id = matches.qbo_customer_id
            and matches.resolution = 'linked'
    where matches.ops_customer_id is null

),

sides as (

    select
        ops_customer_id,
        qbo_customer_id,
        resolution,
        match_method,
        candidate_qbo_ids,
        ledger_state,
        field_count,
        mismatched_field_count,
        mismatched_fields,
        difference_status
    from ops_side
    union all
    select
        null as ops_customer_id,
        qbo_customer_id,
        null as resolution,
        null as match_method,
        null as candidate_qbo_ids,
        null as ledger_state,
        null as field_count,
        null as mismatched_field_count,
        null as mismatched_fields,
        null as difference_status
    from unlinked_qbo

),

final as (

    select
        sides.ops_customer_id,
        sides.qbo_customer_id,
        sides.resolution,
        sides.match_method,
        sides.candidate_qbo_ids,
        coalesce(sides.field_count, 0) as field_count,
        coalesce(sides.mismatched_field_count, 0) as mismatched_field_count,
        sides.mismatched_fields,
        case
            when sides.ops_customer_id is null then 'missing_in_ops'
            when sides.resolution = 'ambiguous' then 'ambiguous'
            when sides.qbo_customer_id is null and sides.ledger_state in ('pending', 'sent') then 'pending'
            when sides.qbo_customer_id is null then 'missing_in_quickbooks'
            when sides.mismatched_field_count > 0 then sides.difference_status
            else 'matched'
        end as status
    from sides

)

select * from final
