#include "term.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static int
is_space_control(uint32_t cp)
{
	return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' ||
	    cp == '\f';
}

void
ms_term_add(struct ms_buf *b, const char *s, size_t n, int flags)
{
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		if ((len = ms_utf8_decode(s + i, n - i, &cp)) == 0) {
			/* Invalid, or a NUL inside the value: visibly. */
			if (!(flags & MS_TERM_DROP))
				ms_buf_adds(b,
				    (flags & MS_TERM_SPACES)
					? " "
					: MS_UTF8_REPLACEMENT);
			i++;
			continue;
		}
		if (!ms_utf8_is_control(cp))
			ms_buf_add(b, s + i, len);
		else if (cp == '\n' && (flags & MS_TERM_NEWLINES))
			ms_buf_addc(b, '\n');
		else if (is_space_control(cp) || (flags & MS_TERM_SPACES))
			ms_buf_addc(b, ' ');
		else if (!(flags & MS_TERM_DROP))
			ms_buf_adds(b, MS_UTF8_REPLACEMENT);
		i += len;
	}
}

char *
ms_term_clean(const char *s, int flags)
{
	struct ms_buf b = {0};

	ms_term_add(&b, s, strlen(s), flags);
	return ms_buf_steal(&b);
}

int
ms_term_fputs(const char *s, int flags, FILE *f)
{
	char *c = ms_term_clean(s, flags);
	int rc = fputs(c, f);

	free(c);
	return rc == EOF ? -1 : 0;
}
