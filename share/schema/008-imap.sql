-- mailsync schema, version 8: generic IMAP accounts.
--
-- An IMAP account is an account of provider 'imap', and its emails have
-- source 'imap': the two CHECK constraints that named only Gmail and
-- Outlook go, for the driver table (common/sync/driver.c) is the one list
-- of providers, and a provider added later must not need another
-- rebuild. SQLite cannot alter a CHECK, so both tables are
-- rebuilt the way sqlite.org/lang_altertable.html ("Making Other Kinds
-- Of Table Schema Changes") says: common/store/db.c runs migrations
-- with foreign keys off and checks them (PRAGMA foreign_key_check)
-- before it commits, so no row of the tables that reference these two
-- is touched. Every column of versions 1 to 7 is kept.

CREATE TABLE accounts_new (
	id INTEGER PRIMARY KEY,
	provider TEXT NOT NULL,		-- a driver's name
	address TEXT NOT NULL,
	member TEXT NOT NULL,
	status TEXT NOT NULL DEFAULT 'active'
	    CHECK (status IN ('active', 'needs-reauth', 'error', 'disconnected')),
	created INTEGER NOT NULL,
	last_sync INTEGER,
	last_error TEXT,
	aliases_read INTEGER,
	failing_since INTEGER,
	notified INTEGER,
	kind TEXT NOT NULL DEFAULT 'own' CHECK (kind IN ('own', 'shared')),
	tenant TEXT,
	UNIQUE (provider, address)
);
INSERT INTO accounts_new (id, provider, address, member, status, created,
	last_sync, last_error, aliases_read, failing_since, notified, kind,
	tenant)
SELECT id, provider, address, member, status, created, last_sync,
	last_error, aliases_read, failing_since, notified, kind, tenant
FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;

CREATE TABLE emails_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id TEXT NOT NULL UNIQUE,
	source TEXT NOT NULL,		-- 'crm', or a driver's name
	direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
	date INTEGER NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	snippet TEXT NOT NULL DEFAULT '',
	body TEXT,
	has_attachments INTEGER NOT NULL DEFAULT 0,
	thread_id TEXT,
	bulk INTEGER NOT NULL DEFAULT 0
);
INSERT INTO emails_new (id, message_id, source, direction, date, subject,
	snippet, body, has_attachments, thread_id, bulk)
SELECT id, message_id, source, direction, date, subject, snippet, body,
	has_attachments, thread_id, bulk FROM emails;
-- Ids only grow (mailsync-match takes those above the last it saw):
-- the new table goes on from the old one's sequence, not from max(id).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'emails_new', seq FROM sqlite_sequence WHERE name = 'emails'
	AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'emails_new');
UPDATE sqlite_sequence SET seq = max(seq,
	(SELECT seq FROM sqlite_sequence WHERE name = 'emails'))
WHERE name = 'emails_new'
	AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'emails');
DROP TABLE emails;
ALTER TABLE emails_new RENAME TO emails;

-- The server of an IMAP account and its password, sealed like the OAuth
-- tokens (common/store/secret.c); deleted on disconnect. tls: 'implicit'
-- (imaps, port 993 by default), 'starttls', or 'none' (loopback only).
CREATE TABLE imap_servers (
	account_id INTEGER PRIMARY KEY REFERENCES accounts (id)
	    ON DELETE CASCADE,
	host TEXT NOT NULL,
	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls', 'none')),
	user TEXT NOT NULL,
	password BLOB,			-- sealed; NULL once disconnected
	updated INTEGER NOT NULL
);
