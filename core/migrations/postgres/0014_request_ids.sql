-- The id of the HTTP request that wrote a notification (a status change,
-- a reissued PIN): the relay sets it on the send job, so the job's log
-- lines are found from the request's. NULL for rows written before, and
-- for those no request wrote (reminders, report mail).
ALTER TABLE notifications ADD COLUMN request_id TEXT;
