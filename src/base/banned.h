/* banned: functions this project does not call, made compile errors (after git's banned.h).
 * strcpy/strcat/sprintf/vsprintf write without a bound; strncpy/strncat do not terminate or are
 * easy to misuse; strtok keeps hidden state (not thread-safe, not reentrant); atoi/atol cannot
 * report an error and overflow silently; gets cannot be used safely. Use snprintf, memcpy with a
 * checked length, strtok_r, util_parse_u64 or strtol with its end pointer instead.
 *
 * Included before every source of src/ by the build (-include, CMakeLists.txt). It includes the
 * headers that declare these functions first, so their declarations are seen before the macros.
 */
#ifndef HEADROOM_BANNED_H
#define HEADROOM_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gets
#define gets(x) BANNED(gets)

#endif
