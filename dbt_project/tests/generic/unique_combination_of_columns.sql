{#
    A key made of several columns is unique (rows where every key column is null
    are skipped; test those with not_null or expression_is_true).
        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [qbo_payment_id, line_index]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {%- for column in combination_of_columns %}
    {{ column }},
    {%- endfor %}
    count(*) as occurrences
from {{ model }}
where not ({% for column in combination_of_columns %}{{ column }} is null{% if not loop.last %} and {% endif %}{% endfor %})
group by {% for column in combination_of_columns %}{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1

{% endtest %}
