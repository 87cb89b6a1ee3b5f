-- which QuickBooks vendor each live operations vendor is (or would be) linked to, by
-- the customers' cascade: crosswalk (sync ledger, else the ops qbo_id column), email,
-- normalised display name plus address (first line and postal code), phone; among
-- live QuickBooks vendors no crosswalk claims. One candidate links, several are
-- ambiguous, none is to_create.
with

ops_vendors as (

    select * from {{ ref('stg_ops__vendors') }}

),

qbo_vendors as (

    select * from {{ ref('stg_qbo__vendors') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

vendor_ledger as (

    select
        ops_id,
        qbo_id
    from ledger
    where entity = 'vendor' and qbo_id is not null

),

parties as (

    select
        vendor_id as party_id,
        is_deleted
    from ops_vendors

),

crosswalk as (

    select
        ops_vendors.vendor_id as party_id,
        coalesce(vendor_ledger.qbo_id, ops_vendors.qbo_id) as qbo_id,
        'crosswalk' as link_method
    from ops_vendors
    left join vendor_ledger
        on ops_vendors.vendor_id = vendor_ledger.ops_id
    where coalesce(vendor_ledger.qbo_id, ops_vendors.qbo_id) is not null

),

unclaimed as (

    select
        qbo_vendors.qbo_vendor_id as qbo_id,
        {{ fb_party_match_keys(
            'qbo_vendors', 'email', 'display_name', 'bill_line1', 'bill_postal_code', 'phone'
        ) }}
    from qbo_vendors
    left join crosswalk
        on qbo_vendors.qbo_vendor_id = crosswalk.qbo_id
    where
        not qbo_vendors.is_deleted
        and qbo_vendors.is_active
        and crosswalk.qbo_id is null

),

unlinked as (

    select
        ops_vendors.vendor_id as party_id,
        {{ fb_party_match_keys(
            'ops_vendors', 'email', 'display_name', 'line1', 'postal_code', 'phone'
        ) }}
    from ops_vendors
    left join crosswalk
        on ops_vendors.vendor_id = crosswalk.party_id
    where not ops_vendors.is_deleted and crosswalk.party_id is null

),

{{ fb_match_candidates('unlinked', 'unclaimed') }},

{{ fb_resolve_matches('parties', 'crosswalk') }},

renamed as (

    select
        party_id as ops_vendor_id,
        resolution,
        match_method,
        qbo_id as qbo_vendor_id,
        candidate_qbo_ids,
        candidate_count
    from matched

)

select * from renamed
