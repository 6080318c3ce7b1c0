-- A failed message sent again from the console: each resend is a new send
-- job, with an id of its own (`sms.send:42:resend1`).
ALTER TABLE notifications ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
