-- field by field, each operations customer linked to a live QuickBooks customer: names,
-- email, phone, billing address and tax exemption, raw and normalised the way the
-- matching and the outbound set compare them (fb_customer_fields: names and address
-- lines as fb_normalize_name, email trimmed and lower-cased, phone as its digits without
-- a leading US 1, codes trimmed and upper-cased, empty as null; QuickBooks' Taxable
-- missing means taxable).
-- A field that differs takes its customer's reason: edited_in_quickbooks (QuickBooks'
-- SyncToken moved past the ledger's since the last push), pending (operations changed
-- it, or the link is new, and the next push sends it) or field_mismatch (neither).
with

ops_customers as (

    select * from {{ ref('stg_ops__customers') }}

),

qbo_customers as (

    select * from {{ ref('stg_qbo__customers') }}

),

matches as (

    select * from {{ ref('int_customers_matched') }}

),

ledger as (

    select * from {{ ref('stg_fieldbooks__sync_ledger') }}

),

outbound as (

    select * from {{ ref('sync_qbo_customers') }}

),

customer_ledger as (

    select
        ops_id,
        sync_token
    from ledger
    where entity = 'customer'

),

ops_values as (

    select
        customer_id as ops_customer_id,
        display_name,
        given_name,
        family_name,
        company_name,
        email,
        phone,
        bill_line1,
        bill_city,
        bill_state,
        bill_postal_code,
        bill_country,
        cast(is_tax_exempt as varchar) as tax_exempt
    from ops_customers

),

qbo_values as (

    select
        qbo_customer_id,
        sync_token,
        display_name,
        given_name,
        family_name,
        company_name,
        email,
        phone,
        bill_line1,
        bill_city,
        bill_state,
        bill_postal_code,
        bill_country,
        cast(not coalesce(is_taxable, true) as varchar) as tax_exempt
    from qbo_customers
    where not is_deleted and is_active

),

pairs as (

    select
        matches.ops_customer_id,
        matches.qbo_customer_id,
        case
            when {{ fb_is_edited_in_quickbooks('customer_ledger', 'qbo_values') }}
                then 'edited_in_quickbooks'
            when outbound.ops_customer_id is not null then 'pending'
            else 'field_mismatch'
        end as difference_status
    from matches
    inner join qbo_values
        on matches.qbo_customer_id = qbo_values.qbo_customer_id
    left join customer_ledger
        on matches.ops_customer_id = customer_ledger.ops_id
    left join outbound
        on matches.ops_customer_id = outbound.ops_customer_id
    where matches.resolution = 'linked'

),

compared as (

    {%- for field, kind in fb_customer_fields() %}

    select
        pairs.ops_customer_id,
        pairs.qbo_customer_id,
        '{{ field }}' as field_name,
        ops_values.{{ field }} as ops_value,
        qbo_values.{{ field }} as qbo_value,
        {{ fb_normalize_field('ops_values.' ~ field, kind) }} as ops_normalized,
        {{ fb_normalize_field('qbo_values.' ~ field, kind) }} as qbo_normalized,
        pairs.difference_status
    from pairs
    inner join ops_values
        on pairs.ops_customer_id = ops_values.ops_customer_id
    inner join qbo_values
        on pairs.qbo_customer_id = qbo_values.qbo_customer_id
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

matched as (

    select
        compared.*,
        coalesce(
            compared.ops_normalized = compared.qbo_normalized,
            compared.ops_normalized is null and compared.qbo_normalized is null
        ) as is_match
    from compared

),

final as (

    select
        ops_customer_id,
        qbo_customer_id,
        field_name,
        ops_value,
        qbo_value,
        ops_normalized,
        qbo_normalized,
        is_match,
        case when is_match then 'matched' else difference_status end as status
    from matched

)

select * from final
