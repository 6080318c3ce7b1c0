-- The language a user reads the web UI in (`es`, `en`), chosen on their
-- profile page; NULL follows the browser's Accept-Language. (PostgreSQL;
-- the SQLite migration 0010 makes the same change.)
ALTER TABLE users ADD COLUMN language TEXT;
