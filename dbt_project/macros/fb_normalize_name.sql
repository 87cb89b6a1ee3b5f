{#
    A display name reduced for matching customers: lower case, punctuation
    dropped (letters, accented ones included, and digits kept), runs of
    whitespace collapsed to one space, trimmed.
    "  Seán  O'Brien " and "SEÁN O’BRIEN" both give "seán obrien".

    The kept letters are listed by code point range (Latin, Latin-1 and
    Latin Extended, Greek, Cyrillic) rather than [[:alpha:]], whose meaning
    depends on the database locale on PostgreSQL and is ASCII-only in DuckDB.
#}
{% macro fb_normalize_name(expression) -%}
    {{ return(adapter.dispatch('fb_normalize_name', 'fieldbooks')(expression)) }}
{%- endmacro %}

{% macro default__fb_normalize_name(expression) -%}
    trim(
        regexp_replace(
            regexp_replace(lower({{ expression }}), '[^a-z0-9À-ÖØ-öø-ɏͰ-ϿЀ-ӿ[:space:]]', '', 'g'),
            '[[:space:]]+', ' ', 'g'
        )
    )
{%- endmacro %}
