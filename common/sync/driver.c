#include "driver.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "http.h"
#include "util.h"

/*
 * Every provider mailsync knows, in the order people read them: each is
 * one file of common/drivers/ and its line here.
 */
extern const struct ms_driver ms_gmail_driver, ms_graph_driver, ms_imap_driver;
static const struct ms_driver *const drivers[] = {
    &ms_gmail_driver,
    &ms_graph_driver,
    &ms_imap_driver,
};
#define NDRIVERS (sizeof(drivers) / sizeof(*drivers))

const struct ms_driver *
ms_driver_at(size_t i)
{
	return i < NDRIVERS ? drivers[i] : NULL;
}

const char *
ms_driver_names(void)
{
	static char names[128];
	size_t i;

	if (names[0] != '\0')
		return names;
	for (i = 0; i < NDRIVERS; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s",
		    i == 0                  ? ""
			: i + 1 == NDRIVERS ? " or "
					    : ", ",
		    drivers[i]->name);
	return names;
}

const struct ms_driver *
ms_driver_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NDRIVERS; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	ms_errc(EX_USAGE, "unknown provider \"%s\": %s", name ? name : "",
	    ms_driver_names());
	return NULL;
}

const char *
ms_driver_source(const char *s)
{
	size_t i;

	if (strcmp(s, "crm") == 0)
		return "crm";
	for (i = 0; i < NDRIVERS; i++)
		if (strcmp(s, drivers[i]->name) == 0)
			return drivers[i]->name;
	return NULL;
}

const char *
ms_driver_env(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v != NULL && *v != '\0' ? v : def;
}

static int
check(const char *url)
{
	return url == NULL ? 0 : ms_http_check_url(url);
}

struct ms_provider *
ms_provider_create(const char *name, const char *tenant)
{
	const struct ms_driver *d = ms_driver_find(name);
	struct ms_provider *p;

	if (d == NULL)
		return NULL;
	p = ms_xcalloc(1, sizeof(*p));
	p->drv = d;
	p->name = d->name;
	p->label = d->label;
	p->scope = d->scope;
	if (d->endpoints(p, (d->flags & MS_DRV_TENANT) ? tenant : NULL) == -1)
		goto fail;
	/* Refuse a clear-text endpoint before anything is sent to it. */
	if (check(p->auth_url) == -1 || check(p->token_url) == -1 ||
	    check(p->device_url) == -1 || check(p->revoke_url) == -1 ||
	    check(p->api_url) == -1)
		goto fail;
	return p;
fail:
	ms_provider_destroy(p);
	return NULL;
}

void
ms_provider_shared(struct ms_provider *p)
{
	if (p->drv->shared_scope != NULL)
		p->scope = p->drv->shared_scope;
}

void
ms_provider_destroy(struct ms_provider *p)
{
	if (p == NULL)
		return;
	free(p->auth_url);
	free(p->token_url);
	free(p->device_url);
	free(p->revoke_url);
	free(p->api_url);
	free(p->aliases_url);
	free(p);
}

int
ms_provider_scope_has(const char *granted, const char *want)
{
	size_t wl = strlen(want), n;
	const char *p = granted, *end;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		n = end ? (size_t)(end - p) : strlen(p);
		if ((n == wl && ms_ascii_ncasecmp(p, want, n) == 0) ||
		    (n > wl && p[n - wl - 1] == '/' &&
			ms_ascii_ncasecmp(p + n - wl, want, wl) == 0))
			return 1;
		p = end;
	}
	return 0;
}
