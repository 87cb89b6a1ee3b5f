-- the expense lines of QuickBooks bills: one row per AccountBasedExpenseLineDetail or
-- ItemBasedExpenseLineDetail line; the job (sub-customer) a line is for is its CustomerRef
{{ fb_expense_lines(source('raw_qbo', 'bill'), 'qbo_bill_id') }}
