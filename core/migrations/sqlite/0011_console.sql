-- A failed message sent again from the console: each resend is a new send
-- job, with an id of its own (`sms.send:42:resend1`).
ALTER TABLE notifications ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;

-- The dashboard counts receptions and deliveries per day (today and the
-- 14 days of its chart) without reading the whole history.
CREATE INDEX parcel_events_event_time ON parcel_events (event, created_at);
