#include "text.h"

#include <string.h>

#include "util.h"

int
ms_text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
ms_text_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void
ms_text_b64_add(struct ms_text_b64 *d, int v, struct ms_buf *out)
{
	d->acc = d->acc << 6 | (unsigned int)v;
	if (++d->k == 4) {
		ms_buf_addc(out, (char)(d->acc >> 16));
		ms_buf_addc(out, (char)(d->acc >> 8));
		ms_buf_addc(out, (char)d->acc);
		d->acc = 0;
		d->k = 0;
	}
}

int
ms_text_b64_end(struct ms_text_b64 *d, struct ms_buf *out)
{
	int lone = d->k == 1;

	if (d->k == 2)
		ms_buf_addc(out, (char)(d->acc >> 4));
	else if (d->k == 3) {
		ms_buf_addc(out, (char)(d->acc >> 10));
		ms_buf_addc(out, (char)(d->acc >> 2));
	}
	d->acc = 0;
	d->k = 0;
	return lone;
}

const char *
ms_text_skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

void
ms_text_quote(const char *s, size_t n, char *dst, size_t size)
{
	size_t i = 0, k = 0;

	if (size == 0)
		return;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (; i < n && k + 4 < size && k < MS_TEXT_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[k++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (i < n && k + 4 < size) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}
