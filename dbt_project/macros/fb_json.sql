{#
    Reading QuickBooks objects kept whole in raw_qbo.<entity>.payload
    (DuckDB `json`, PostgreSQL `jsonb`).

    Paths are dotted key paths (`CustomerRef.value`, `TxnTaxDetail.TotalTax`).
    Both warehouses accept the chained `->` / `->>` operators, so one default
    implementation serves both; the array unnesting differs and is dispatched.

    Numbers: PostgreSQL keeps jsonb numbers exact. DuckDB reads JSON numbers as
    doubles and writes them back shortest-round-trip, which gives the written
    digits back for every amount with at most 15 significant digits
    (below 10 trillion to the cent), and the cast to numeric happens on that text.
#}

{#- the `->` chain that reaches a JSON value: fb_json_path('payload', 'A.B') = payload -> 'A' -> 'B' -#}
{% macro fb_json_path(json_column, path) -%}
    {{ json_column }}{% for key in path.split('.') %} -> '{{ key }}'{% endfor %}
{%- endmacro %}

{#- a JSON value as text (strings unquoted), null when missing -#}
{% macro fb_json_text(json_column, path) -%}
    {{ return(adapter.dispatch('fb_json_text', 'fieldbooks')(json_column, path)) }}
{%- endmacro %}

{% macro default__fb_json_text(json_column, path) -%}
    {%- set keys = path.split('.') -%}
    {{ json_column }}{% for key in keys[:-1] %} -> '{{ key }}'{% endfor %} ->> '{{ keys[-1] }}'
{%- endmacro %}

{#- a JSON number cast to an exact type (money by default); never through a float column -#}
{% macro fb_json_number(json_column, path, data_type='numeric(18,2)') -%}
    cast({{ fb_json_text(json_column, path) }} as {{ data_type }})
{%- endmacro %}

{#- a JSON boolean -#}
{% macro fb_json_bool(json_column, path) -%}
    cast({{ fb_json_text(json_column, path) }} as boolean)
{%- endmacro %}

{#- a JSON date ('YYYY-MM-DD') -#}
{% macro fb_json_date(json_column, path) -%}
    cast({{ fb_json_text(json_column, path) }} as date)
{%- endmacro %}

{#
    One row per element of a JSON array, as a lateral join to put after a FROM:
        from source
        {{ fb_json_array_rows('source.payload', 'Line', 'lines', 'line', 'line_index') }}
    gives lines.line (the element, JSON) and lines.line_index (its 0-based position
    in the array). A missing or non-array value gives no rows.
#}
{% macro fb_json_array_rows(json_column, path, alias, element_name='element', index_name='element_index') -%}
    {{ return(adapter.dispatch('fb_json_array_rows', 'fieldbooks')(json_column, path, alias, element_name, index_name)) }}
{%- endmacro %}

{% macro duckdb__fb_json_array_rows(json_column, path, alias, element_name, index_name) -%}
    cross join lateral (
        select
            unnested.element as {{ element_name }},
            unnested.ordinality - 1 as {{ index_name }}
        from unnest(
            case
                when json_type({{ fb_json_path(json_column, path) }}) = 'ARRAY'
                    then json_extract({{ fb_json_path(json_column, path) }}, '$[*]')
            end
        ) with ordinality as unnested (element, ordinality)
    ) as {{ alias }}
{%- endmacro %}

{% macro postgres__fb_json_array_rows(json_column, path, alias, element_name, index_name) -%}
    cross join lateral (
        select
            unnested.element as {{ element_name }},
            unnested.ordinality - 1 as {{ index_name }}
        from jsonb_array_elements(
            case
                when jsonb_typeof({{ fb_json_path(json_column, path) }}) = 'array'
                    then {{ fb_json_path(json_column, path) }}
                else '[]'::jsonb
            end
        ) with ordinality as unnested (element, ordinality)
    ) as {{ alias }}
{%- endmacro %}
