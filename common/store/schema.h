/* schema: the migrations of share/schema/, embedded at build time. */
#ifndef MS_SCHEMA_H
#define MS_SCHEMA_H

/* ms_schema_migrations[i] takes the database from version i to i + 1. */
extern const char *const ms_schema_migrations[];
extern const int ms_schema_version;

#endif
