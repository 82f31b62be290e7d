-- mailsync schema, version 5: telling people about failing accounts.
--
-- Under cron every line on stderr becomes a mail, every 15 minutes.
-- mailsync-pull says a failure on stderr on the first failing run and
-- then at most once a day until the account recovers (syslog has every
-- run); these two columns remember where each account stands.

-- When the current failure began (the first failing run); NULL while
-- the account is healthy.
ALTER TABLE accounts ADD COLUMN failing_since INTEGER;
-- When stderr last said so; NULL when it never did for this failure.
ALTER TABLE accounts ADD COLUMN notified INTEGER;

