"""Qt item models (view-models) over engine data: job list, candidates, timeline."""
