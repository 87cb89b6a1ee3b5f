-- fb_hash must give the same string on DuckDB and PostgreSQL: the ledger keeps the hash
-- of what was last pushed, and a warehouse move must not make every record look changed.
-- The expected value is md5('12.50|2026-10-01|true|\N|a\|b|7|-0.50|x\\y|2.5000|Seán'),
-- computed outside any database.
with

sample as (

    select
        {{ fb_hash([
            "cast('12.50' as numeric(18, 2))",
            "cast('2026-10-01' as date)",
            "(1 = 1)",
            "cast(null as varchar)",
            "'a|b'",
            "cast(7 as integer)",
            "cast('-0.5' as numeric(18, 2))",
            "'x\\y'",
            "cast('2.5' as numeric(18, 4))",
            "'Seán'",
        ]) }} as hash_value

)

select hash_value
from sample
where hash_value <> '8af23a666d61fc3766627509fabb403a'
