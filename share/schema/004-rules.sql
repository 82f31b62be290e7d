-- mailsync schema, version 4: the business rules of mailsync-config.
--
-- mailsync-match classifies every address once (key_id NULL: not yet)
-- and again whenever a rule changes; linking then reads only the two
-- columns below, so the rules cost almost nothing per email.

-- key_id: the address this one matches as (itself, unless plus
-- addressing or Gmail dots fold it into another). flags: 1 a business
-- address (account or alias), 2 blocked, 4 internal (business, or at
-- one of the business's own domains).
ALTER TABLE addresses ADD COLUMN key_id INTEGER;
ALTER TABLE addresses ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
CREATE INDEX addresses_key ON addresses (key_id) WHERE key_id IS NOT NULL;
CREATE INDEX addresses_new ON addresses (id) WHERE key_id IS NULL;

-- Newsletters and automated mail (List-Unsubscribe, Precedence: bulk or
-- list, Auto-Submitted other than no), as pull saw the headers.
ALTER TABLE emails ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;

-- When the provider's send-as aliases of an account were last read.
ALTER TABLE accounts ADD COLUMN aliases_read INTEGER;

-- The business's other addresses: send-as aliases read from the
-- provider, and those added by hand (mailsync-config alias).
CREATE TABLE aliases (
	address TEXT NOT NULL,			-- normalised
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	origin TEXT NOT NULL CHECK (origin IN ('provider', 'manual')),
	PRIMARY KEY (address, account_id)
) WITHOUT ROWID;
CREATE INDEX aliases_account ON aliases (account_id);

-- Addresses ("jane@x.example") and domains ("@x.example", subdomains
-- included) that never make an email match a client.
CREATE TABLE blocklist (
	pattern TEXT PRIMARY KEY,		-- normalised
	created INTEGER NOT NULL
) WITHOUT ROWID;
