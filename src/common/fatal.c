/* fatal.c - see fatal.h. */
#include "common/fatal.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"

void fatal_restart(const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    log_emit(LOG_LEVEL_ERROR, "%s; stopping (a restart recovers)", why);
    _exit(1);
}
