-- The reports the Citus suite compares (test/scripts/citus.sh), one per line: name|query.  Each runs in a
-- transaction with lead_scoring.now set locally, on the coordinator.
handoffs|SELECT lead_id, handed_off_at, owner, first_response_at, status, stage, due_at FROM lead_scoring.handoffs ORDER BY lead_id, handed_off_at
sales_queue|SELECT lead_id, handed_off_at, owner, stage, status, score, grade, first_channel, last_channel, top_reasons FROM lead_scoring.sales_queue
funnel|SELECT * FROM lead_scoring.funnel
stage_durations|SELECT * FROM lead_scoring.stage_durations
handoff_feedback|SELECT * FROM lead_scoring.handoff_feedback
manager_report|SELECT * FROM lead_scoring.manager_report('2026-01-01', '2026-02-01')
channel_report|SELECT * FROM lead_scoring.channel_report('linear', '2026-01-01', '2026-02-01')
attribution|SELECT conversion_id, channel, campaign, round(weight::numeric, 6), round(credit::numeric, 4) FROM lead_scoring.attribution('position_based') ORDER BY 1, 2, 3, 4
score|SELECT l.id, lead_scoring.score(l.id), lead_scoring.score(l.id, '2026-01-03 00:00+00'), lead_scoring.grade(l.id) FROM crm.leads l ORDER BY l.id
score_where|SELECT l.id, lead_scoring.score(l.id) FROM crm.leads l WHERE l.id = 4
explain_leads|SELECT l.id, x.rule, x.kind, x.hits, round(x.points::numeric, 6) FROM crm.leads l, LATERAL lead_scoring.explain(l.id) x ORDER BY 1, 2
score_deals|SELECT d.id, lead_scoring.score(d.lead_id) FROM crm.deals d ORDER BY d.id
explain|SELECT * FROM lead_scoring.explain(2::bigint)
grade|SELECT lead_scoring.grade(2::bigint), lead_scoring.grade(4::bigint)
