with

source as (

    select * from {{ source('fieldbooks', 'sync_issues') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        issue_id,
        realm_id,
        entity,
        ops_id,
        qbo_id,
        run_id,

        -- issue
        kind,
        severity,
        reason,
        hint,
        status,
        attempts,

        -- timestamps
        first_seen,
        last_seen

    from source

)

select * from renamed
