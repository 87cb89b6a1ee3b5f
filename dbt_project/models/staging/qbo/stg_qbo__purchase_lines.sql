-- the expense lines of QuickBooks purchases: one row per AccountBasedExpenseLineDetail or
-- ItemBasedExpenseLineDetail line; the job (sub-customer) a line is for is its CustomerRef
{{ fb_expense_lines(source('raw_qbo', 'purchase'), 'qbo_purchase_id') }}
