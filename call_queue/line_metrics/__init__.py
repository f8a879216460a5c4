"""The line's numbers for supervisors: what each metric means, computed live and over history.

`definitions` states every metric once, as pure functions over call records; `live` computes
the same numbers with SQL for the wall screen; `history` buckets a day or a range for charts;
`staffing` turns recent traffic into an Erlang C staffing estimate; `levels` and `alerts`
colour the tiles and record breaches.
"""
