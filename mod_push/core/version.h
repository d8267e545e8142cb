/* mod_push's version. It is written in one place, AC_INIT in configure.ac, and reaches
 * the compiler as PUSH_PACKAGE_VERSION (Makefile.am; not PACKAGE_VERSION, which httpd's
 * ap_config_auto.h redefines as its own); the module's log lines and pushctl --version
 * take it from here, and t/unit/test_version.sh checks debian/changelog against it. */
#ifndef PUSH_VERSION_H
#define PUSH_VERSION_H

#ifndef PUSH_PACKAGE_VERSION
#error "PUSH_PACKAGE_VERSION comes from configure (AC_INIT in configure.ac): build through make"
#endif
#define PUSH_VERSION PUSH_PACKAGE_VERSION

#endif
