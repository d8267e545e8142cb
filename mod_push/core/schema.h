/* The schema version this build reads and writes. pushctl migrate brings a
 * database up to it; the module refuses to serve any other version. */
#ifndef PUSH_SCHEMA_H
#define PUSH_SCHEMA_H

#define PUSH_SCHEMA_VERSION 24

#endif
