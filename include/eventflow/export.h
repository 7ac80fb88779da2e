/* eventflow/export.h - symbol visibility of libeventflow.
 *
 * The library is compiled with -fvisibility=hidden; EF_API marks the public
 * functions, the only symbols the shared library exports. */
#ifndef EVENTFLOW_EXPORT_H
#define EVENTFLOW_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define EF_API __attribute__((visibility("default")))
#else
#define EF_API
#endif

#endif
