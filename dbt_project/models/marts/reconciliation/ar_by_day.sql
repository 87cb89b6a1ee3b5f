-- accounts receivable per company and day, operations against QuickBooks: the sum of the
-- open balances at the end of each day, from the first to the last day either side has a
-- movement (int_ar_movements). The days come from a spine built here (digits cross
-- joined: up to 100,000 days), no package needed.
-- difference = operations minus QuickBooks; the day's changes show where a gap started.
with

movements as (

    select * from {{ ref('int_ar_movements') }}

),

bounds as (

    select
        min(movement_date) as first_day,
        max(movement_date) as last_day
    from movements

),

digits as (

    select numbers.digit from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as numbers (digit)

),

day_offsets as (

    select
        ones.digit
        + tens.digit * 10
        + hundreds.digit * 100
        + thousands.digit * 1000
        + ten_thousands.digit * 10000 as day_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
    cross join digits as ten_thousands

),

days as (

    select cast(bounds.first_day + day_offsets.day_offset as date) as as_of_date
    from bounds
    inner join day_offsets
        on day_offsets.day_offset <= bounds.last_day - bounds.first_day

),

daily_changes as (

    select
        movement_date,
        sum(case when side = 'ops' then amount else 0 end) as ops_change,
        sum(case when side = 'qbo' then amount else 0 end) as qbo_change
    from movements
    group by movement_date

),

daily as (

    select
        days.as_of_date,
        coalesce(daily_changes.ops_change, 0) as ops_change,
        coalesce(daily_changes.qbo_change, 0) as qbo_change
    from days
    left join daily_changes
        on days.as_of_date = daily_changes.movement_date

),

running as (

    select
        as_of_date,
        ops_change,
        qbo_change,
        sum(ops_change) over running_days as ops_open_balance,
        sum(qbo_change) over running_days as qbo_open_balance
    from daily
    window running_days as (order by as_of_date rows between unbounded preceding and current row)

),

final as (

    select
        '{{ var("realm_id") }}' as realm_id,
        as_of_date,
        cast(ops_change as numeric(18, 2)) as ops_change,
        cast(qbo_change as numeric(18, 2)) as qbo_change,
        cast(ops_open_balance as numeric(18, 2)) as ops_open_balance,
        cast(qbo_open_balance as numeric(18, 2)) as qbo_open_balance,
        cast(ops_open_balance - qbo_open_balance as numeric(18, 2)) as difference,
        case when ops_open_balance = qbo_open_balance then 'matched' else 'amount_mismatch' end as status
    from running

)

select * from final
