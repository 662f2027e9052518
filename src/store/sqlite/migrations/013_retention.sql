-- Running for years (issue 23). A deleted campaign stays as a tombstone (deleted_at) while its launches and
-- messages are kept for statistics: launches reference it. The retention purge (engine/retention.ts) removes
-- rows by age a batch at a time, each batch by an index on its time column.
ALTER TABLE campaigns ADD COLUMN deleted_at INTEGER;
-- Messages whose rendered subject or body is still kept (SALVO_RETAIN_BODIES).
CREATE INDEX messages_rendered ON messages (created_at) WHERE subject IS NOT NULL OR body IS NOT NULL;
CREATE INDEX outbox_created ON outbox (created_at);
-- Only finished deliveries are purged; queued and sending ones are never in this index.
CREATE INDEX webhook_events_finished ON webhook_events (created_at) WHERE status IN ('delivered', 'failed');
CREATE INDEX launches_created ON launches (created_at);
CREATE INDEX campaign_log_time ON campaign_log (time);
-- A purged launch takes its finished tasks with it (tasks reference launches).
CREATE INDEX tasks_launch ON tasks (launch_id);
-- resources/delete asks whether subscriptions still use the resource.
CREATE INDEX subscriptions_resource ON subscriptions (resource_id);
