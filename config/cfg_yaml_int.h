/*
 * cfg_yaml_int: the node tree, shared by the parser (cfg_yaml.c) and the
 * typed readers (cfg_yaml_get.c) only.
 */
#ifndef SD_CFG_YAML_INT_H
#define SD_CFG_YAML_INT_H

#include <stddef.h>

#include "cfg_yaml.h"

struct cfg_yaml_node {
	enum cfg_yaml_kind kind;
	int plain;                   /* scalar written without quotes */
	unsigned long line;          /* 1-based */
	unsigned long column;        /* 1-based */
	struct cfg_yaml_node *next;  /* next sibling */
	struct cfg_yaml_node *child; /* first item; mappings: key, value... */
	struct cfg_yaml_node *last;  /* last item */
	size_t nchild;               /* items; mappings: keys + values */
	size_t len;                  /* scalar length, without the NUL */
	char value[];                /* scalar bytes, NUL-terminated */
};

struct cfg_yaml_doc {
	const char *name;
	char *errbuf;
	size_t errlen;
	int failed; /* an error is recorded already */
	struct cfg_yaml_node *root;
	/* cfg_yaml_names_elsewhere: names not found here go to elsewhere() */
	cfg_yaml_elsewhere_fn *elsewhere;
	void *elsewhere_arg;
};

#endif
