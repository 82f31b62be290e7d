-- mailsync schema, version 6: each driver's sync cursor is its own text.
--
-- Version 3 kept Gmail's and Graph's pieces of a cursor side by side in
-- columns named after them; a cursor is now one value per account and
-- folder that only its driver reads (driver.h), still committed in the
-- transaction of the emails it covers. The old pieces move into the
-- JSON the Gmail and Graph drivers write.
ALTER TABLE sync_state ADD COLUMN cursor TEXT;
UPDATE sync_state SET cursor = CASE
	WHEN delta_link IS NOT NULL OR next_link IS NOT NULL THEN
		json_object('deltaLink', delta_link, 'nextLink', next_link)
	ELSE json_object('historyId', history_id,
		'fullHistoryId', full_history_id, 'pageToken', page_token)
	END;
ALTER TABLE sync_state DROP COLUMN history_id;
ALTER TABLE sync_state DROP COLUMN full_history_id;
ALTER TABLE sync_state DROP COLUMN page_token;
ALTER TABLE sync_state DROP COLUMN delta_link;
ALTER TABLE sync_state DROP COLUMN next_link;
