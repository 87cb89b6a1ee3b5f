{#
    fb_match_candidates(unlinked, unclaimed): the CTEs `email_candidates`,
    `name_candidates`, `phone_candidates` and `candidates` of the party-matching
    cascade shared by customers and vendors. Each rule is tried only for parties
    no earlier rule found a candidate for: email, then normalised name plus billing
    address, then phone.

    Both inputs are CTE names with the columns `party_id` (unlinked, operations) or
    `qbo_id` (unclaimed, QuickBooks), and `match_email`, `match_name`,
    `match_address`, `match_phone`, built with fb_party_match_keys.
    `candidates` has (party_id, qbo_id, match_method).
#}
{% macro fb_match_candidates(unlinked, unclaimed) -%}
email_candidates as (

    select
        {{ unlinked }}.party_id,
        {{ unclaimed }}.qbo_id,
        'email' as match_method
    from {{ unlinked }}
    inner join {{ unclaimed }}
        on {{ unlinked }}.match_email = {{ unclaimed }}.match_email

),

name_candidates as (

    select
        {{ unlinked }}.party_id,
        {{ unclaimed }}.qbo_id,
        'name_address' as match_method
    from {{ unlinked }}
    inner join {{ unclaimed }}
        on
            {{ unlinked }}.match_name = {{ unclaimed }}.match_name
            and {{ unlinked }}.match_address = {{ unclaimed }}.match_address
    left join email_candidates
        on {{ unlinked }}.party_id = email_candidates.party_id
    where email_candidates.party_id is null

),

phone_candidates as (

    select
        {{ unlinked }}.party_id,
        {{ unclaimed }}.qbo_id,
        'phone' as match_method
    from {{ unlinked }}
    inner join {{ unclaimed }}
        on {{ unlinked }}.match_phone = {{ unclaimed }}.match_phone
    left join email_candidates
        on {{ unlinked }}.party_id = email_candidates.party_id
    left join name_candidates
        on {{ unlinked }}.party_id = name_candidates.party_id
    where
        email_candidates.party_id is null
        and name_candidates.party_id is null

),

candidates as (

    select * from email_candidates
    union all
    select * from name_candidates
    union all
    select * from phone_candidates

)
{%- endmacro %}


{#
    fb_party_match_keys(relation, email, name, line1, postal_code, phone): the four
    match keys of a party, as select-list expressions: email trimmed and lower-cased;
    the display name normalised (fb_normalize_name); the first address line and
    postal code normalised and joined (null unless both are there); the last ten
    digits of the phone (null under seven digits).
#}
{% macro fb_party_match_keys(relation, email, name, line1, postal_code, phone) -%}
        nullif(lower(trim({{ relation }}.{{ email }})), '') as match_email,
        nullif({{ fb_normalize_name(relation ~ '.' ~ name) }}, '') as match_name,
        nullif({{ fb_normalize_name(relation ~ '.' ~ line1) }}, '')
        || '|' || nullif({{ fb_normalize_name(relation ~ '.' ~ postal_code) }}, '')
            as match_address,
        case
            when length(regexp_replace({{ relation }}.{{ phone }}, '[^0-9]', '', 'g')) >= 7
                then right(regexp_replace({{ relation }}.{{ phone }}, '[^0-9]', '', 'g'), 10)
        end as match_phone
{%- endmacro %}


{#
    fb_resolve_matches(parties, crosswalk): the CTEs `candidate_sets`, `contested`
    and `matched` that decide each live party's link from its crosswalk and the
    `candidates` of fb_match_candidates. A crosswalk links; exactly one candidate
    (that no other party also has as its only candidate) links; several are
    ambiguous, listed in candidate_qbo_ids; none is to_create.

    `parties` has party_id and is_deleted; `crosswalk` has party_id, qbo_id and
    link_method. `matched` has (party_id, resolution, match_method, qbo_id,
    candidate_qbo_ids, candidate_count), one row per live party.
#}
{% macro fb_resolve_matches(parties, crosswalk) -%}
candidate_sets as (

    select
        party_id,
        min(match_method) as match_method,
        count(*) as candidate_count,
        min(qbo_id) as first_candidate,
        {{ fb_list_agg('qbo_id') }} as candidate_qbo_ids
    from candidates
    group by party_id

),

-- one QuickBooks record that is the only candidate of several parties links none of them
contested as (

    select first_candidate as qbo_id
    from candidate_sets
    where candidate_count = 1
    group by first_candidate
    having count(*) > 1

),

matched as (

    select
        {{ parties }}.party_id,
        case
            when {{ crosswalk }}.qbo_id is not null then 'linked'
            when candidate_sets.candidate_count = 1 and contested.qbo_id is null then 'linked'
            when candidate_sets.candidate_count >= 1 then 'ambiguous'
            else 'to_create'
        end as resolution,
        coalesce({{ crosswalk }}.link_method, candidate_sets.match_method) as match_method,
        case
            when {{ crosswalk }}.qbo_id is not null then {{ crosswalk }}.qbo_id
            when candidate_sets.candidate_count = 1 and contested.qbo_id is null
                then candidate_sets.first_candidate
        end as qbo_id,
        coalesce({{ crosswalk }}.qbo_id, candidate_sets.candidate_qbo_ids) as candidate_qbo_ids,
        case
            when {{ crosswalk }}.qbo_id is not null then 1
            else coalesce(candidate_sets.candidate_count, 0)
        end as candidate_count
    from {{ parties }}
    left join {{ crosswalk }}
        on {{ parties }}.party_id = {{ crosswalk }}.party_id
    left join candidate_sets
        on {{ parties }}.party_id = candidate_sets.party_id
    left join contested
        on candidate_sets.first_candidate = contested.qbo_id
    where not {{ parties }}.is_deleted

)
{%- endmacro %}
