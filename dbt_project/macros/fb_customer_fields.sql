{#
    How an operations customer and a QuickBooks customer are compared, field by field:
    one list of fields and one normaliser per kind, used by the outbound set (which fields
    an update changes), the edits set to operations and the field-by-field tie-out.

    fb_customer_fields(): (field, kind) pairs; both sides expose each field under its name
    (tax_exempt as the text 'true'/'false').
    fb_normalize_field(expr, kind): names and address lines as fb_normalize_name, email
    trimmed and lower-cased, phone as its digits without a leading US 1, codes trimmed and
    upper-cased, empty as null.
    fb_field_matches(a, b, kind): true when both normalise to the same value or to null.
    fb_changed_fields(a, b): the comma-separated names of the fields that differ, or null.
    fb_is_edited_in_quickbooks(ledger, qbo): QuickBooks' SyncToken moved past the one the
    ledger recorded at the last write, link or adoption (a customer's balance moving does
    not change its SyncToken; a person's edit does).
#}
{% macro fb_customer_fields() -%}
    {{ return([
        ('display_name', 'name'),
        ('given_name', 'name'),
        ('family_name', 'name'),
        ('company_name', 'name'),
        ('email', 'email'),
        ('phone', 'phone'),
        ('bill_line1', 'name'),
        ('bill_city', 'name'),
        ('bill_state', 'code'),
        ('bill_postal_code', 'code'),
        ('bill_country', 'code'),
        ('tax_exempt', 'flag'),
    ]) }}
{%- endmacro %}

{% macro fb_normalize_field(expr, kind) -%}
    {%- set digits = "regexp_replace(" ~ expr ~ ", '[^0-9]', '', 'g')" -%}
    {%- if kind == 'name' -%}
        nullif({{ fb_normalize_name(expr) }}, '')
    {%- elif kind == 'email' -%}
        nullif(lower(trim({{ expr }})), '')
    {%- elif kind == 'phone' -%}
        nullif(
            case
                when length({{ digits }}) = 11 and {{ digits }} like '1%'
                    then substr({{ digits }}, 2)
                else {{ digits }}
            end,
            ''
        )
    {%- elif kind == 'code' -%}
        nullif(upper(trim({{ expr }})), '')
    {%- else -%}
        {{ expr }}
    {%- endif -%}
{%- endmacro %}

{% macro fb_field_matches(a, b, kind) -%}
    coalesce(
        {{ fb_normalize_field(a, kind) }} = {{ fb_normalize_field(b, kind) }},
        {{ fb_normalize_field(a, kind) }} is null and {{ fb_normalize_field(b, kind) }} is null
    )
{%- endmacro %}

{% macro fb_changed_fields(a, b) -%}
    nullif(concat_ws(
        ','
        {%- for field, kind in fb_customer_fields() %},
        case when not {{ fb_field_matches(a ~ '.' ~ field, b ~ '.' ~ field, kind) }} then '{{ field }}' end
        {%- endfor %}
    ), '')
{%- endmacro %}

{% macro fb_is_edited_in_quickbooks(ledger, qbo) -%}
    ({{ ledger }}.sync_token is not null and coalesce({{ qbo }}.sync_token <> {{ ledger }}.sync_token, true))
{%- endmacro %}

{#
    fb_conflict_outcome(entity, ops_updated_at, qbo_updated_at): what the entity's policy
    (var conflict_policies) decides for a record changed on both sides since the last sync:
    send_to_quickbooks, apply_to_operations or hold (a person decides; an issue is raised).
    ops_wins and quickbooks_wins always pick that side; newest_wins picks the later edit
    and holds a tie; flag holds.
#}
{% macro fb_conflict_policy(entity) -%}
    {%- set overrides = var('conflict_policy_overrides', {}) -%}
    {%- set defaults = var('conflict_policies', {}) -%}
    {%- if overrides is mapping and entity in overrides -%}
        {%- set policy = overrides[entity] -%}
    {%- elif defaults is mapping and entity in defaults -%}
        {%- set policy = defaults[entity] -%}
    {%- else -%}
        {%- set policy = 'flag' -%}
    {%- endif -%}
    {%- if policy not in ['ops_wins', 'quickbooks_wins', 'newest_wins', 'flag'] -%}
        {{ exceptions.raise_compiler_error(
            "conflict_policies." ~ entity ~ " is '" ~ policy
            ~ "'; use one of ops_wins, quickbooks_wins, newest_wins, flag"
        ) }}
    {%- endif -%}
    {{ return(policy) }}
{%- endmacro %}

{% macro fb_conflict_outcome(entity, ops_updated_at, qbo_updated_at) -%}
    {%- set policy = fb_conflict_policy(entity) -%}
    {%- if policy == 'ops_wins' -%}
        'send_to_quickbooks'
    {%- elif policy == 'quickbooks_wins' -%}
        'apply_to_operations'
    {%- elif policy == 'newest_wins' -%}
        case
            when {{ ops_updated_at }} > {{ qbo_updated_at }} then 'send_to_quickbooks'
            when {{ qbo_updated_at }} > {{ ops_updated_at }} then 'apply_to_operations'
            else 'hold'
        end
    {%- else -%}
        'hold'
    {%- endif -%}
{%- endmacro %}

{#
    fb_invoice_line_signature(item, quantity, unit_price, amount): one invoice line as
    fieldbooks sends it, hashed the same way from operations' columns and from
    QuickBooks' (typed alike first: QuickBooks answers 2.5 where operations holds 2.50).
#}
{% macro fb_invoice_line_signature(item, quantity, unit_price, amount) -%}
    {{ fb_hash([
        'cast(' ~ item ~ ' as varchar)',
        'cast(' ~ quantity ~ ' as numeric(18, 4))',
        'cast(' ~ unit_price ~ ' as numeric(18, 2))',
        'cast(' ~ amount ~ ' as numeric(18, 2))',
    ]) }}
{%- endmacro %}

{#
    fb_invoice_lines_signature(): an invoice's lines as one text, the same from operations'
    lines and from QuickBooks' (an aggregate over rows with qbo_item_id, quantity,
    unit_price and amount), in an order neither side's line numbers decide.
#}
{% macro fb_invoice_lines_signature() -%}
    string_agg(
        {{ fb_invoice_line_signature('qbo_item_id', 'quantity', 'unit_price', 'amount') }},
        ',' order by
            cast(qbo_item_id as varchar), cast(amount as numeric(18, 2)),
            cast(quantity as numeric(18, 4))
    )
{%- endmacro %}
