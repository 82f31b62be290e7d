-- mailsync schema, version 2: OAuth app credentials and account tokens.
-- Every secret is sealed (common/store/secret.c) with the key file kept outside
-- the database.

-- The business's OAuth app per provider ("Settings > Integrations").
CREATE TABLE apps (
	provider TEXT PRIMARY KEY CHECK (provider IN ('gmail', 'outlook')),
	client_id TEXT NOT NULL,
	secret BLOB,			-- sealed; NULL for a public client
	tenant TEXT,			-- Microsoft tenant
	updated INTEGER NOT NULL
) WITHOUT ROWID;

-- The tokens of a connected account; deleted on disconnect.
CREATE TABLE tokens (
	account_id INTEGER PRIMARY KEY REFERENCES accounts (id)
	    ON DELETE CASCADE,
	access BLOB NOT NULL,		-- sealed
	expires INTEGER NOT NULL,
	refresh BLOB NOT NULL,		-- sealed
	scope TEXT NOT NULL,
	updated INTEGER NOT NULL
);
