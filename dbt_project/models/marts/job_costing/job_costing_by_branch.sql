-- job costing rolled up by branch: the sums of job_costing over its jobs, and the gross
-- margin percent of the sums (not an average of the jobs' percents)
{{ fb_job_costing_rollup('branch_id', 'branch_name') }}
