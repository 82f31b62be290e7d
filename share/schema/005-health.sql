-- mailsync schema, version 5: telling people about failing accounts,
-- and completing client ids and addresses quickly.
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

-- The addresses on client records by their text, so that completing a
-- CLIENT argument (mailsync-clients list --ids PREFIX) is one range read
-- of an index: addresses holds every participant of every email, most
-- of them no client's, and scanning those for the few that are would
-- cost the completion its speed. Kept by the triggers below, which the
-- cascade from a removed client fires too; no foreign key of its own,
-- whose index would cost every import a third write per address.
CREATE TABLE client_emails (
	email TEXT NOT NULL,
	client_id INTEGER NOT NULL,
	PRIMARY KEY (email, client_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO client_emails (email, client_id)
	SELECT a.email, ca.client_id FROM client_addrs ca
	JOIN addresses a ON a.id = ca.address_id;
CREATE TRIGGER client_emails_add AFTER INSERT ON client_addrs BEGIN
	INSERT OR IGNORE INTO client_emails (email, client_id)
	SELECT email, NEW.client_id FROM addresses WHERE id = NEW.address_id;
END;
CREATE TRIGGER client_emails_drop AFTER DELETE ON client_addrs BEGIN
	DELETE FROM client_emails WHERE client_id = OLD.client_id
	AND email = (SELECT email FROM addresses WHERE id = OLD.address_id)
	AND NOT EXISTS (SELECT 1 FROM client_addrs
	    WHERE address_id = OLD.address_id AND client_id = OLD.client_id);
END;
