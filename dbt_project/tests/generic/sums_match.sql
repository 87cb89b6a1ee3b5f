{#
    The sum of a column equals the sum of a column of another model, overall or
    per group (`group_by` here, `compare_group_by` there, matched in order).
        columns:
          - name: lines_total
            data_tests:
              - sums_match:
                  arguments:
                    compare_model: ref('sync_qbo_invoice_lines')
                    compare_column: amount
                    group_by: [ops_invoice_id]
    A group present on one side only compares against zero. Fails one row per
    group (or one row overall) whose sums differ.
#}
{% test sums_match(model, column_name, compare_model, compare_column, group_by=[], compare_group_by=none) %}

{%- set compare_keys = compare_group_by if compare_group_by is not none else group_by -%}

with

this_side as (

    select
        {%- for key in group_by %}
        {{ key }} as group_key_{{ loop.index }},
        {%- endfor %}
        coalesce(sum({{ column_name }}), 0) as this_sum
    from {{ model }}
    {%- if group_by %}
    group by {% for key in group_by %}{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
    {%- endif %}

),

other_side as (

    select
        {%- for key in compare_keys %}
        {{ key }} as group_key_{{ loop.index }},
        {%- endfor %}
        coalesce(sum({{ compare_column }}), 0) as other_sum
    from {{ compare_model }}
    {%- if compare_keys %}
    group by {% for key in compare_keys %}{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
    {%- endif %}

)

select
    {%- for key in group_by %}
    coalesce(this_side.group_key_{{ loop.index }}, other_side.group_key_{{ loop.index }}) as group_key_{{ loop.index }},
    {%- endfor %}
    coalesce(this_side.this_sum, 0) as this_sum,
    coalesce(other_side.other_sum, 0) as other_sum
from this_side
{%- if group_by %}
full outer join other_side
    on {% for key in group_by %}this_side.group_key_{{ loop.index }} = other_side.group_key_{{ loop.index }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- else %}
cross join other_side
{%- endif %}
where coalesce(this_side.this_sum, 0) <> coalesce(other_side.other_sum, 0)

{% endtest %}
