{#
    fb_hash(['col_a', 'col_b', ...]): a stable content hash of some columns, the
    `payload_hash` the sync ledger stores for what was last pushed.

    md5 of the values cast to text and joined by '|'; a null is '\N'; a backslash
    or a '|' inside a value is escaped with a backslash, so ('a|', 'b') and
    ('a', '|b') differ. It gives the same string on DuckDB and PostgreSQL for the
    same values as long as the inputs are typed the same way on both:
    decimals print with their scale (numeric(18,2) 5 -> '5.00'), dates ISO
    (PostgreSQL's default DateStyle), booleans 'true'/'false'. Never hash a float.
    tests/assert_fb_hash_is_portable.sql pins the result on known values.
#}
{% macro fb_hash(columns) -%}
    {{ return(adapter.dispatch('fb_hash', 'fieldbooks')(columns)) }}
{%- endmacro %}

{% macro default__fb_hash(columns) -%}
    md5(
        {%- for column in columns %}
        coalesce(replace(replace(cast({{ column }} as varchar), '\', '\\'), '|', '\|'), '\N')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    )
{%- endmacro %}
