-- Staff administration at the counter: when each login was created and last used, for the
-- admin's periodic review of logins (an unused login is one to disable).
ALTER TABLE staff ADD COLUMN created_at BIGINT;
ALTER TABLE staff ADD COLUMN last_login_at BIGINT;
