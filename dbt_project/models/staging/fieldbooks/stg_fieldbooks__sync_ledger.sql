-- the crosswalk: which QuickBooks object each synced operations record became
with

source as (

    select * from {{ source('fieldbooks', 'sync_ledger') }}
    where realm_id = '{{ var("realm_id") }}'

),

renamed as (

    select

        -- ids
        realm_id,
        entity,
        ops_id,
        qbo_id,
        sync_token,
        request_id,
        marker,

        -- state
        payload_hash,
        state,
        origin,
        last_error,

        -- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
