{#
    Use a custom schema name as it is (staging, sync, reconciliation, mappings)
    instead of dbt's default `<target schema>_<custom>`: the loaders and the
    accountants read fixed schema names on every warehouse.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
