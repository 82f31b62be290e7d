-- mailsync schema, version 3: sync cursors of mailsync-pull.
--
-- Each cursor is committed in the same transaction as the emails it
-- covers, so a run killed at any point resumes without loss or
-- duplicates.
CREATE TABLE sync_state (
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	folder TEXT NOT NULL,		-- Graph folder; '' for Gmail
	history_id TEXT,		-- Gmail: where incremental sync goes on
	full_history_id TEXT,		-- Gmail: the profile's historyId read
					-- when the unfinished full sync began
	page_token TEXT,		-- Gmail: the unfinished full sync's
					-- next messages.list page
	delta_link TEXT,		-- Graph: the last complete deltaLink
	next_link TEXT,			-- Graph: the unfinished round's page
	PRIMARY KEY (account_id, folder)
) WITHOUT ROWID;
