/*
 * fuzz: what the libFuzzer harnesses of tests/fuzz share.
 *
 * A harness is one file, fuzz-NAME.c, that defines LLVMFuzzerTestOneInput
 * for one parser of outside input. It is linked twice: with libFuzzer as
 * fuzz-NAME (clang, -Dfuzz=true), and with replay.c as replay-NAME in
 * every build, which `meson test` runs over regress/NAME and corpus/NAME.
 * Its header comment carries a line " * libfuzzer: FLAGS" that
 * tests/fuzz/run.sh passes to the fuzzer (-max_len, -dict, ...).
 *
 * A harness returns 0 for any input. It aborts (FUZZ_CHECK) when the
 * parser breaks a promise of its header, so that the fuzzer and the
 * replay report the input as they would a crash.
 */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
	((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

static inline void
fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, what);
	abort();
}

/*
 * The input as a C string, for the functions that take one: a new
 * string of exactly size + 1 bytes (so that a read past its NUL is
 * caught), cut at the first NUL as a C caller would see it.
 */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
