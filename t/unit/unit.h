/* A minimal TAP producer for the C unit tests: no framework, one header. */
#ifndef PUSH_UNIT_H
#define PUSH_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_run, unit_failed;

#define CHECK(cond, name)                                                        \
    do {                                                                         \
        unit_run++;                                                              \
        if (cond) {                                                              \
            printf("ok %d - %s\n", unit_run, name);                              \
        } else {                                                                 \
            unit_failed++;                                                       \
            printf("not ok %d - %s (%s:%d: %s)\n", unit_run, name, __FILE__,     \
                   __LINE__, #cond);                                             \
        }                                                                        \
    } while (0)

#define UNIT_DONE()                                                              \
    do {                                                                         \
        printf("1..%d\n", unit_run);                                             \
        return unit_failed ? 1 : 0;                                              \
    } while (0)

#endif
