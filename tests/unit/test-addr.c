/*
 * Unit tests for common/mail/addr.c. Address lists are those of RFC 5322
 * Appendix A (and RFC 822 A.3, RFC 2047 section 8); the names and
 * mailboxes expected are the ones the RFC text describes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "tap.h"
#include "util.h"

struct want {
	const char *name;
	const char *email;
};

static void
list(const char *in, int wantskip, const struct want *w, size_t nw,
    const char *what)
{
	struct ms_addrlist l = {0};
	char label[200];
	size_t i;
	int skipped;

	skipped = ms_addr_parse_list(in, strlen(in), &l);
	snprintf(label, sizeof(label), "%s: skipped", what);
	is_int(skipped, wantskip, label);
	snprintf(label, sizeof(label), "%s: count", what);
	if (!is_int(l.n, nw, label) && skipped > 0)
		diag(ms_errstr());
	for (i = 0; i < nw && i < l.n; i++) {
		snprintf(label, sizeof(label), "%s: #%zu email", what, i);
		is_str(l.v[i].email, w[i].email, label);
		snprintf(label, sizeof(label), "%s: #%zu name", what, i);
		is_str(l.v[i].name, w[i].name, label);
	}
	ms_addrlist_finish(&l);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_appendix_a(void)
{
	static const struct want a11f[] = {
	    {"John Doe", "jdoe@machine.example"}};
	static const struct want a11t[] = {{"Mary Smith", "mary@example.net"}};
	static const struct want a12f[] = {
	    {"Joe Q. Public", "john.q.public@example.com"}};
	static const struct want a12t[] = {{"Mary Smith", "mary@x.test"},
	    {"", "jdoe@example.org"}, {"Who?", "one@y.test"}};
	static const struct want a12c[] = {{"", "boss@nil.test"},
	    {"Giant; \"Big\" Box", "sysservices@example.net"}};
	static const struct want a13f[] = {{"Pete", "pete@silly.example"}};
	static const struct want a13t[] = {{"Ed Jones", "c@a.test"},
	    {"", "joe@where.test"}, {"John", "jdoe@one.test"}};
	static const struct want a2r[] = {
	    {"Mary Smith: Personal Account", "smith@home.example"}};
	static const struct want a3r[] = {
	    {"Jane Brown", "j-brown@other.example"}};
	static const struct want a5f[] = {{"Pete", "pete@silly.test"}};
	static const struct want a5t[] = {{"Chris Jones", "c@public.example"},
	    {"", "joe@example.org"}, {"John", "jdoe@one.test"}};
	static const struct want a61t[] = {
	    {"Mary Smith", "mary@example.net"}, {"", "jdoe@test.example"}};
	static const struct want a63f[] = {
	    {"John Doe", "jdoe@machine.example"}};

	list("John Doe <jdoe@machine.example>", 0, a11f, N(a11f), "A.1.1 From");
	list("Mary Smith <mary@example.net>", 0, a11t, N(a11t), "A.1.1 To");
	list("\"Joe Q. Public\" <john.q.public@example.com>", 0, a12f, N(a12f),
	    "A.1.2 From");
	list("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", 0,
	    a12t, N(a12t), "A.1.2 To");
	list("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
	     "<sysservices@example.net>",
	    0, a12c, N(a12c), "A.1.2 Cc");
	list("Pete <pete@silly.example>", 0, a13f, N(a13f), "A.1.3 From");
	list("A Group:Ed Jones <c@a.test>,joe@where.test,John "
	     "<jdoe@one.test>;",
	    0, a13t, N(a13t), "A.1.3 To (group)");
	list("Undisclosed recipients:;", 0, NULL, 0, "A.1.3 Cc (empty group)");
	list("\"Mary Smith: Personal Account\" <smith@home.example>", 0, a2r,
	    N(a2r), "A.2 Reply-To");
	list("Jane Brown <j-brown@other.example>", 0, a3r, N(a3r),
	    "A.3 Resent-To");
	list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    0, a5f, N(a5f), "A.5 From");
	list("A Group(Some people)\r\n"
	     "     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
	     "         joe@example.org,\r\n"
	     "  John <jdoe@one.test> (my dear friend); (the end of the group)",
	    0, a5t, N(a5t), "A.5 To");
	list("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
	    0, NULL, 0, "A.5 Cc");
	list("Joe Q. Public <john.q.public@example.com>", 0, a12f, N(a12f),
	    "A.6.1 From (obsolete phrase)");
	list("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
	    0, a61t, N(a61t), "A.6.1 To (route, empty entry, CFWS at dot)");
	list("John Doe <jdoe@machine(comment).  example>", 0, a63f, N(a63f),
	    "A.6.3 From");
	list("Mary Smith\r\n  \r\n          <mary@example.net>", 0, a11t,
	    N(a11t), "A.6.3 To");
}

static void
test_other_forms(void)
{
	static const struct want andre[] = {
	    {"Andr\xc3\xa9 Pirard", "pirard@vm1.ulg.ac.be"}};
	static const struct want nsb[] = {
	    {"Nathaniel Borenstein", "nsb@thumper.bellcore.com"}};
	static const struct want cmt[] = {{"John Doe", "jdoe@example.org"}};
	static const struct want two[] = {{"A", "a@x.test"}, {"B", "b@y.test"}};
	static const struct want route[] = {{"", "c@d.test"}};
	static const struct want al[] = {
	    {"", "\"al neuman\"@mad-host"}, {"", "sam.irving@other-host"}};
	static const struct want comma[] = {
	    {"Doe, John", "john@example.com"}, {"", "x@example.com"}};
	static const struct want idn[] = {
	    {"J\xc3\xbcrgen", "j@xn--bcher-kva.example"}};
	static const struct want atname[] = {
	    {"bob@example.com", "bob@example.com"}};

	list("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", 0, andre,
	    N(andre), "RFC 2047 name");
	list("Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
	     "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
	    0, nsb, N(nsb), "RFC 2047 comment after a name-addr");
	list("jdoe@example.org (John Doe)", 0, cmt, N(cmt),
	    "name in a trailing comment");
	list("A <a@x.test> B <b@y.test>", 0, two, N(two),
	    "missing comma between angle addresses");
	list("<@a.test,@b.test:c@d.test>", 0, route, N(route),
	    "obsolete route with two domains");
	list("\"Al Neuman\"@Mad-Host,\r\n          Sam.Irving@Other-Host", 0,
	    al, N(al), "RFC 822 A.3.2 quoted local part");
	list("\"Doe, John\" <john@example.com>,x@example.com", 0, comma,
	    N(comma), "quoted display name with a comma");
	list("=?utf-8?q?J=C3=BCrgen?= <J@B\xc3\x9c"
	     "CHER.example>",
	    0, idn, N(idn), "IDN domain in a list");
	list("bob@example.com <bob@example.com>", 0, atname, N(atname),
	    "unquoted address as display name");
	list("", 0, NULL, 0, "empty list");
	list(" , ,, ", 0, NULL, 0, "only commas");
}

static void
test_hostile(void)
{
	static const struct want good[] = {{"", "x@y.test"}};
	struct ms_addrlist l = {0};
	struct ms_buf b = {0};
	struct timespec t0, t1;
	size_t i;
	int r;

	list("\"John, <a@b.test>", 1, NULL, 0, "unterminated quote");
	ok(strstr(ms_errstr(), "unterminated quoted string") != NULL,
	    "error says so: %s", ms_errstr());
	list("x@y.test, \"John <a@b.test>", 1, good, N(good),
	    "unterminated quote keeps the entries before it");
	list("x@y.test, John <a@b.test", 1, good, N(good),
	    "unterminated angle bracket");
	ok(strstr(ms_errstr(), "unterminated angle bracket") != NULL,
	    "error says so: %s", ms_errstr());
	list("x@y.test, a@b.test (John", 1, good, N(good),
	    "unterminated comment");
	ok(strstr(ms_errstr(), "unterminated comment") != NULL,
	    "error says so: %s", ms_errstr());
	list("x@y.test, a@[1.2.3.4", 1, good, N(good),
	    "unterminated domain literal");
	list("John Doe, x@y.test", 1, good, N(good), "phrase without address");
	ok(strstr(ms_errstr(), "John Doe") != NULL &&
		strstr(ms_errstr(), "no @") != NULL,
	    "error quotes the entry: %s", ms_errstr());
	list("john doe@y.test, x@y.test", 1, good, N(good),
	    "space in local part");
	list("<>, x@y.test", 1, good, N(good), "empty angle address");
	list("x@y.test>", 1, NULL, 0, "stray >");
	list("a <b <c@d.test>>, x@y.test", 2, good, N(good), "nested <");

	r = ms_addr_parse_list("a\0b@c.test, d@e.test", 20, &l);
	is_int(r, 1, "NUL byte in an address: skipped");
	is_int(l.n, 1, "NUL byte: the other address kept");
	if (l.n == 1)
		is_str(l.v[0].email, "d@e.test", "NUL byte: right address");
	ms_addrlist_finish(&l);
	r = ms_addr_parse_list("\"A\0B\" <d@e.test>", 16, &l);
	is_int(r, 0, "NUL byte in a name: parsed");
	if (l.n == 1)
		is_str(l.v[0].name,
		    "A\xef\xbf\xbd"
		    "B",
		    "NUL in name is U+FFFD");
	ms_addrlist_finish(&l);
	list("\"Bj\xf6rn\" <b@x.test>, =?utf-8?b?/w==?= <c@x.test>", 0,
	    (const struct want[]){
		{"Bj\xc3\xb6rn", "b@x.test"}, {"\xef\xbf\xbd", "c@x.test"}},
	    2, "invalid UTF-8 in names becomes valid");
	r = ms_addr_parse_list("d@e.test, f@g.test", 8, &l);
	is_int(l.n, 1, "length respected");
	ms_addrlist_finish(&l);

	/* 1 MB list, and a 1 MB single address. */
	for (i = 0; i < 50000; i++)
		ms_buf_printf(&b, "\"N%zu, x\" <a%zu@b.test>, ", i, i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ms_addr_parse_list(b.s, b.len, &l);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is_int(l.n, 50000, "1 MB address list parsed");
	ok((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 2.0,
	    "1 MB address list parsed quickly");
	ms_addrlist_finish(&l);
	ms_buf_finish(&b);
	for (i = 0; i < 1000000; i++)
		ms_buf_addc(&b, i % 2 ? '(' : '"');
	r = ms_addr_parse_list(b.s, b.len, &l);
	ok(r == 1 && l.n == 0, "1 MB of quotes and parens: one bad entry");
	ms_addrlist_finish(&l);
	ms_buf_finish(&b);
}

static void
norm(const char *in, const char *want, const char *name)
{
	char *got = ms_addr_normalize(in);

	is_str(got, want, name);
	if (got == NULL && want != NULL)
		diag(ms_errstr());
	free(got);
}

static void
test_normalize(void)
{
	char *s;

	norm("Jane@B\xc3\x9c"
	     "CHER.example",
	    "jane@xn--bcher-kva.example", "IDNA domain, lower-cased");
	norm("  John.Doe@Example.COM \t", "john.doe@example.com",
	    "trimmed and lower-cased");
	norm("\"Quoted Name\"@Example.ORG", "\"quoted name\"@example.org",
	    "quoted local part kept");
	norm("a@[192.0.2.1]", "a@[192.0.2.1]", "domain literal");
	norm("user+tag@xn--bcher-kva.example", "user+tag@xn--bcher-kva.example",
	    "A-label kept");
	norm("x@fa\xc3\x9f.de", "x@xn--fa-hia.de",
	    "nontransitional IDNA (sharp s kept)");
	norm("no-at", NULL, "no @");
	ok(strncmp(ms_errstr(), "invalid address \"no-at\": ", 25) == 0,
	    "error format: %s", ms_errstr());
	norm("@example.com", NULL, "empty local part");
	norm("a@", NULL, "empty domain");
	norm("", NULL, "empty");
	norm("a b@example.com", NULL, "space in local part");
	norm("a@exa mple.com", NULL, "space in domain");
	norm("a\x01@example.com", NULL, "control character");
	norm("a@-bad.example", NULL, "label with a leading hyphen");
	norm("a@xn--zz.example", NULL, "bad punycode label");
	norm("a@x..example", NULL, "empty label");
	norm("a@ex,ample.com", NULL, "comma in domain");
	norm("a@b\xff.example", NULL, "invalid UTF-8 in domain");
	norm("a<b@example.com", NULL, "special in local part");

	s = ms_addr_normalize(NULL);
	ok(s == NULL, "NULL refused");
	free(s);
}

static void
test_add(void)
{
	struct ms_addrlist l = {0};

	is_int(ms_addrlist_add(&l, "Jane", " Jane@Example.com"), 0,
	    "addrlist_add");
	is_int(ms_addrlist_add(&l, NULL, "bad"), -1, "addrlist_add invalid");
	is_int(
	    ms_addrlist_add(&l, NULL, "x@y.test"), 0, "addrlist_add no name");
	is_int(l.n, 2, "two added");
	if (l.n == 2) {
		is_str(l.v[0].email, "jane@example.com", "email normalised");
		is_str(l.v[0].name, "Jane", "name copied");
		is_str(l.v[1].name, "", "NULL name is \"\"");
	}
	ms_addrlist_finish(&l);
	is_int(l.n, 0, "finish empties the list");
	ms_addrlist_finish(&l);
	ms_addrlist_finish(NULL);
}

int
main(void)
{
	test_appendix_a();
	test_other_forms();
	test_hostile();
	test_normalize();
	test_add();
	return done_testing();
}
