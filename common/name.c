/*
 * name: see name.h.
 */
#include "name.h"
#include "sd_limits.h"

int
sd_name_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
sd_name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= SD_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!sd_name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int
sd_quotable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

void
sd_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}
