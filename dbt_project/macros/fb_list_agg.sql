{#
    fb_list_agg('qbo_customer_id'): the distinct-free, ordered, comma-separated
    list of a text column in a group (ids sort numerically when they are numbers).
#}
{% macro fb_list_agg(expression, separator=',') -%}
    {{ return(adapter.dispatch('fb_list_agg', 'fieldbooks')(expression, separator)) }}
{%- endmacro %}

{% macro default__fb_list_agg(expression, separator) -%}
    string_agg({{ expression }}, '{{ separator }}' order by length({{ expression }}), {{ expression }})
{%- endmacro %}
