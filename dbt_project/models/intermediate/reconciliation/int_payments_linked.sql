-- which QuickBooks payment each live operations payment is: the sync ledger's qbo_id,
-- else the ops qbo_id column (payments copied from QuickBooks carry it), else the one live
-- QuickBooks payment whose PrivateNote is the marker a push leaves
-- ('fieldbooks:payment:<ops id>'), found again after a crash.
-- A QuickBooks payment claimed by several ops payments stays with the strongest link.
with

ops_payments as (

    select * from {{ ref('stg_ops__payments') }}

),

qbo_payments as (

    select * from {{ ref('stg_qbo__payments') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

payment_ledger as (

    select
        ops_id,
        qbo_id
    from ledger
    where entity = 'payment' and qbo_id is not null

),

crosswalk as (

    select
        ops_payments.payment_id as ops_payment_id,
        coalesce(payment_ledger.qbo_id, ops_payments.qbo_id) as qbo_payment_id,
        case when payment_ledger.qbo_id is not null then 'crosswalk' else 'qbo_id' end as link_method
    from ops_payments
    left join payment_ledger
        on ops_payments.payment_id = payment_ledger.ops_id
    where coalesce(payment_ledger.qbo_id, ops_payments.qbo_id) is not null

),

-- markers carried by exactly one live, unclaimed QuickBooks payment
markers as (

    select
        qbo_payments.private_note as marker,
        min(qbo_payments.qbo_payment_id) as qbo_payment_id
    from qbo_payments
    left join crosswalk
        on qbo_payments.qbo_payment_id = crosswalk.qbo_payment_id
    where
        not qbo_payments.is_deleted
        and qbo_payments.private_note like 'fieldbooks:payment:%'
        and crosswalk.qbo_payment_id is null
    group by qbo_payments.private_note
    having count(*) = 1

),

links as (

    select
        ops_payments.payment_id as ops_payment_id,
        coalesce(crosswalk.qbo_payment_id, markers.qbo_payment_id) as qbo_payment_id,
        coalesce(
            crosswalk.link_method,
            case when markers.qbo_payment_id is not null then 'marker' end
        ) as link_method
    from ops_payments
    left join crosswalk
        on ops_payments.payment_id = crosswalk.ops_payment_id
    left join markers
        on 'fieldbooks:payment:' || ops_payments.payment_id = markers.marker
    where not ops_payments.is_deleted

),

ranked as (

    select
        links.*,
        row_number() over (
            partition by links.qbo_payment_id
            order by
                case links.link_method when 'crosswalk' then 1 when 'qbo_id' then 2 else 3 end,
                links.ops_payment_id
        ) as claim_rank
    from links

),

final as (

    select
        ops_payment_id,
        case when claim_rank = 1 then qbo_payment_id end as qbo_payment_id,
        case
            when qbo_payment_id is null then null
            when claim_rank = 1 then link_method
            else 'duplicate_claim'
        end as link_method,
        case when claim_rank > 1 then qbo_payment_id end as contested_qbo_payment_id
    from ranked

)

select * from final
