{#
    fb_expense_lines(transactions, id_column): the staging model of the expense lines of one
    QuickBooks expense transaction type (Purchase, Bill), which share the Line layout:

        {{ fb_expense_lines(source('raw_qbo', 'purchase'), 'qbo_purchase_id') }}

    One row per AccountBasedExpenseLineDetail or ItemBasedExpenseLineDetail line of the
    realm's transactions, keyed by (id_column, line_index: the 0-based position in the Line
    array); the job (sub-customer) a line is for is its CustomerRef. The per-warehouse SQL
    is in fb_json's dispatched macros, so this serves DuckDB and PostgreSQL alike.
#}
{% macro fb_expense_lines(transactions, id_column) -%}
with

source as (

    select * from {{ transactions }}
    where realm_id = '{{ var("realm_id") }}'

),

lines as (

    select
        source.id,
        source.deleted,
        expense_lines.line,
        expense_lines.line_index
    from source
    {{ fb_json_array_rows('source.payload', 'Line', 'expense_lines', 'line', 'line_index') }}

),

renamed as (

    select

        -- ids
        cast(id as varchar) as {{ id_column }},
        cast(line_index as integer) as line_index,
        {{ fb_json_text('line', 'Id') }} as qbo_line_id,
        cast({{ fb_json_text('line', 'LineNum') }} as integer) as line_num,
        {{ fb_json_text('line', 'AccountBasedExpenseLineDetail.AccountRef.value') }} as qbo_account_id,
        {{ fb_json_text('line', 'ItemBasedExpenseLineDetail.ItemRef.value') }} as qbo_item_id,
        -- the detail is one of two kinds; each carries its own customer, class and billable status
        coalesce(
            {{ fb_json_text('line', 'AccountBasedExpenseLineDetail.CustomerRef.value') }},
            {{ fb_json_text('line', 'ItemBasedExpenseLineDetail.CustomerRef.value') }}
        ) as qbo_customer_id,
        coalesce(
            {{ fb_json_text('line', 'AccountBasedExpenseLineDetail.ClassRef.value') }},
            {{ fb_json_text('line', 'ItemBasedExpenseLineDetail.ClassRef.value') }}
        ) as qbo_class_id,

        -- line
        {{ fb_json_text('line', 'DetailType') }} as detail_type,
        {{ fb_json_text('line', 'Description') }} as description,
        coalesce(
            {{ fb_json_text('line', 'AccountBasedExpenseLineDetail.BillableStatus') }},
            {{ fb_json_text('line', 'ItemBasedExpenseLineDetail.BillableStatus') }}
        ) as billable_status,

        -- amounts
        {{ fb_json_number('line', 'Amount') }} as amount,

        -- deletion
        coalesce(deleted, false) as is_deleted

    from lines

)

select * from renamed
where detail_type in ('AccountBasedExpenseLineDetail', 'ItemBasedExpenseLineDetail')
{%- endmacro %}
