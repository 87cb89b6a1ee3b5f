-- an invoice the tie-out calls matched agrees to the cent on total and balance,
-- and an invoice found on both sides that agrees is called matched
with

invoice_tieout as (

    select * from {{ ref('invoice_tieout') }}

),

wrong as (

    select
        ops_invoice_id,
        qbo_invoice_id,
        status,
        total_difference,
        balance_difference
    from invoice_tieout
    where
        (
            status = 'matched'
            and (total_difference <> 0 or balance_difference <> 0)
        )
        or (
            status <> 'matched'
            and ops_invoice_id is not null
            and qbo_invoice_id is not null
            and total_difference = 0
            and balance_difference = 0
        )

)

select * from wrong
