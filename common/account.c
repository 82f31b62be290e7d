#include "account.h"

#include "util.h"

int
ms_account_each(
    struct ms_db *db, int (*fn)(const struct ms_account *, void *), void *arg)
{
	static const char *sql =
	    "SELECT a.id, a.provider, a.address, "
	    "a.member, a.status, a.last_sync, a.last_error, "
	    "(SELECT count(*) FROM email_accounts x WHERE x.account_id = a.id) "
	    "FROM accounts a ORDER BY a.provider, a.address";
	struct ms_account a;
	sqlite3_stmt *st;
	int rc;

	if ((st = ms_db_stmt(db, sql)) == NULL)
		return -1;
	while ((rc = ms_db_step(db, st)) == SQLITE_ROW) {
		a.id = sqlite3_column_int64(st, 0);
		a.provider = ms_db_col_text(st, 1);
		a.address = ms_db_col_text(st, 2);
		a.member = ms_db_col_text(st, 3);
		a.status = ms_db_col_text(st, 4);
		a.last_sync = (time_t)sqlite3_column_int64(st, 5);
		a.last_error = sqlite3_column_type(st, 6) == SQLITE_NULL
		    ? NULL
		    : ms_db_col_text(st, 6);
		a.emails = sqlite3_column_int64(st, 7);
		if (fn(&a, arg) == -1) {
			rc = -1;
			break;
		}
	}
	sqlite3_reset(st);
	return rc == -1 ? -1 : 0;
}
