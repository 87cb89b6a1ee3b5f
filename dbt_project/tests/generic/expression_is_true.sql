{#
    Every row satisfies a boolean SQL expression (rows where it is false or null fail).
        data_tests:
          - expression_is_true:
              arguments:
                expression: "total = subtotal + tax"
              config:
                where: "not is_deleted"
    On a column, the expression may use the column by name.
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
