-- The language a user reads the web UI in (`es`, `en`), chosen on their
-- profile page; NULL follows the browser's Accept-Language. (SQLite; the
-- PostgreSQL migration 0012 makes the same change.)
ALTER TABLE users ADD COLUMN language TEXT;
