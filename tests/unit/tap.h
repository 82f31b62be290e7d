/*
 * tap: a tiny Test Anything Protocol producer for the unit tests.
 *
 *	ok(cond, "format", ...);
 *	is_str(got, want, "name");
 *	is_int(got, want, "name");
 *	return done_testing();
 *
 * The plan ("1..N") is printed at the end; done_testing() returns the
 * exit status (0 when every test passed).
 */
#ifndef MS_TAP_H
#define MS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))

static int tap_n, tap_failed;

static int tap_vok(int, const char *, va_list)
    __attribute__((format(printf, 2, 0))) TAP_UNUSED;
static int
tap_ok(int, const char *, ...) __attribute__((format(printf, 2, 3))) TAP_UNUSED;

static int
tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	putchar('\n');
	return cond;
}

static int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

/* Print s on a diagnostic line, escaping what is not printable ASCII. */
static void TAP_UNUSED
tap_diag_str(const char *label, const char *s)
{
	size_t i, n;

	printf("#   %s: ", label);
	if (s == NULL) {
		printf("NULL\n");
		return;
	}
	n = strlen(s);
	putchar('\'');
	for (i = 0; i < n && i < 300; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("'%s\n", i < n ? "..." : "");
}

static int TAP_UNUSED
tap_is_str(const char *got, const char *want, const char *name)
{
	int cond = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	tap_ok(cond, "%s", name);
	if (!cond) {
		tap_diag_str("got", got);
		tap_diag_str("want", want);
	}
	return cond;
}

static int TAP_UNUSED
tap_is_int(long long got, long long want, const char *name)
{
	int cond = got == want;

	tap_ok(cond, "%s", name);
	if (!cond)
		printf("#   got: %lld\n#   want: %lld\n", got, want);
	return cond;
}

static void TAP_UNUSED
diag(const char *s)
{
	printf("# %s\n", s);
}

static int TAP_UNUSED
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed > 0)
		printf("# failed %d of %d\n", tap_failed, tap_n);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_str(got, want, name) tap_is_str((got), (want), (name))
#define is_int(got, want, name)                                                \
	tap_is_int((long long)(got), (long long)(want), (name))

#endif
