"""report: aggregate a run's result files into <run_id>.log, <run_id>.tables, summary.json and report.html."""
