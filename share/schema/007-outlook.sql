-- mailsync schema, version 7: Outlook's every folder, shared mailboxes
-- and tenants.

-- 'own': the mailbox of whoever authorized it; 'shared': a Microsoft 365
-- shared mailbox read with a member's grant (Mail.Read.Shared), synced
-- through /users/ADDRESS: its tokens are that member's.
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'own'
    CHECK (kind IN ('own', 'shared'));
-- The Microsoft tenant the account was authorized at; every refresh goes
-- to that tenant's endpoints. NULL: the app's tenant.
ALTER TABLE accounts ADD COLUMN tenant TEXT;

-- The folders a pull tracks for an account, by the driver's key (a
-- folder id, or a well-known name), with the path people read
-- ("Inbox/Clients"). The driver rewrites them with its cursors, in the
-- same transaction; mailsync-show lists them.
CREATE TABLE account_folders (
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	folder TEXT NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (account_id, folder)
) WITHOUT ROWID;
