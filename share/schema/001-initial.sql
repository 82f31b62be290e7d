-- mailsync schema, version 1: clients, emails, accounts and their links.
-- Migrations are applied in order by common/store/db.c; PRAGMA user_version
-- holds the number of the last one applied. Never edit a released
-- migration: add the next file instead.

-- Business-wide settings (mailsync-config) and internal bookkeeping
-- (keys starting with "state.", such as mailsync-match's last email id).
CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- Every address ever seen, normalised (trimmed, lower-cased, IDNA).
CREATE TABLE addresses (
	id INTEGER PRIMARY KEY,
	email TEXT NOT NULL UNIQUE
);

-- Connected mailboxes, one per provider and address.
CREATE TABLE accounts (
	id INTEGER PRIMARY KEY,
	provider TEXT NOT NULL CHECK (provider IN ('gmail', 'outlook')),
	address TEXT NOT NULL,
	member TEXT NOT NULL,
	status TEXT NOT NULL DEFAULT 'active'
	    CHECK (status IN ('active', 'needs-reauth', 'error', 'disconnected')),
	created INTEGER NOT NULL,
	last_sync INTEGER,
	last_error TEXT,
	UNIQUE (provider, address)
);

-- One row per email, keyed by its normalised RFC 5322 Message-ID (a
-- synthetic "<...@synthetic.mailsync.invalid>" when it has none). Synced
-- emails keep the snippet only; CRM emails (source 'crm') keep the body.
-- AUTOINCREMENT: ids only grow, so mailsync-match can take every id above
-- the last one it saw as new, even after emails were deleted.
CREATE TABLE emails (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id TEXT NOT NULL UNIQUE,
	source TEXT NOT NULL CHECK (source IN ('crm', 'gmail', 'outlook')),
	direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
	date INTEGER NOT NULL,			-- seconds since the epoch, UTC
	subject TEXT NOT NULL DEFAULT '',
	snippet TEXT NOT NULL DEFAULT '',
	body TEXT,				-- CRM emails only
	has_attachments INTEGER NOT NULL DEFAULT 0,
	thread_id TEXT
);

-- The participants of an email: role 0 From, 1 To, 2 Cc, in header order.
CREATE TABLE email_addrs (
	email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
	role INTEGER NOT NULL CHECK (role IN (0, 1, 2)),
	pos INTEGER NOT NULL,
	address_id INTEGER NOT NULL REFERENCES addresses (id),
	name TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (email_id, role, pos)
) WITHOUT ROWID;
CREATE INDEX email_addrs_address ON email_addrs (address_id, email_id);

-- Every account an email was synced from, with that account's own id.
CREATE TABLE email_accounts (
	email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	provider_id TEXT NOT NULL,
	PRIMARY KEY (email_id, account_id),
	UNIQUE (account_id, provider_id)
) WITHOUT ROWID;

-- The CRM's clients. dirty: addresses changed since the last match.
CREATE TABLE clients (
	id INTEGER PRIMARY KEY,
	crm_id TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL DEFAULT '',
	dirty INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX clients_dirty ON clients (id) WHERE dirty = 1;

-- A client's addresses: kind 0 main email, 1 portal email, 2 contact.
CREATE TABLE client_addrs (
	client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	kind INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
	pos INTEGER NOT NULL,
	address_id INTEGER NOT NULL REFERENCES addresses (id),
	name TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (client_id, kind, pos)
) WITHOUT ROWID;
CREATE INDEX client_addrs_address ON client_addrs (address_id, client_id);

-- Which emails are on which client's profile, ordered for the Emails list.
CREATE TABLE email_clients (
	client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	date INTEGER NOT NULL,
	email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
	PRIMARY KEY (client_id, date, email_id)
) WITHOUT ROWID;
CREATE INDEX email_clients_email ON email_clients (email_id);
