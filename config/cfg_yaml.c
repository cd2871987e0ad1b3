/*
 * cfg_yaml: builds a position-carrying node tree from libyaml's event
 * stream (the typed readers of the tree are cfg_yaml_get.c's).  Events
 * rather than libyaml's document loader, so that nesting is capped as the
 * input is read (the loader recurses without bound) and aliases, anchors
 * and tags are refused where they appear instead of being expanded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "cfg_yaml.h"
#include "cfg_yaml_int.h"
#include "name.h"
#include "err.h"
#include "sd_limits.h"

/* Parser state while events are turned into nodes. */
struct builder {
	struct cfg_yaml_doc *doc;
	struct cfg_yaml_node *open[SD_CONFIG_MAX_DEPTH]; /* open collections */
	size_t depth;
	size_t ndocs;
	int done;
};

static int verror_at(struct cfg_yaml_doc *, int, unsigned long, unsigned long,
    const char *, va_list) __attribute__((format(printf, 5, 0)));
static int error_at(struct cfg_yaml_doc *, unsigned long, unsigned long,
    const char *, ...) __attribute__((format(printf, 4, 5)));

static int
verror_at(struct cfg_yaml_doc *doc, int haspos, unsigned long line,
    unsigned long col, const char *fmt, va_list ap)
{
	char msg[256];

	if (doc->failed)
		return SD_ERR_CONFIG;
	doc->failed = 1;
	if (doc->errbuf == NULL || doc->errlen == 0)
		return SD_ERR_CONFIG;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	if (haspos)
		snprintf(doc->errbuf, doc->errlen, "%s:%lu:%lu: %s", doc->name,
		    line, col, msg);
	else
		snprintf(doc->errbuf, doc->errlen, "%s: %s", doc->name, msg);
	return SD_ERR_CONFIG;
}

static int
error_at(struct cfg_yaml_doc *doc, unsigned long line, unsigned long col,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verror_at(doc, 1, line, col, fmt, ap);
	va_end(ap);
	return r;
}

int
cfg_yaml_error(struct cfg_yaml_doc *doc, const struct cfg_yaml_node *node,
    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (node != NULL)
		r = verror_at(doc, 1, node->line, node->column, fmt, ap);
	else
		r = verror_at(doc, 0, 0, 0, fmt, ap);
	va_end(ap);
	return r;
}

static void
node_free(struct cfg_yaml_node *n)
{
	struct cfg_yaml_node *c, *next;

	if (n == NULL)
		return;
	/* Recursion is bounded by SD_CONFIG_MAX_DEPTH. */
	for (c = n->child; c != NULL; c = next) {
		next = c->next;
		node_free(c);
	}
	explicit_bzero(n->value, n->len);
	free(n);
}

static struct cfg_yaml_node *
node_new(enum cfg_yaml_kind kind, const yaml_mark_t *mark, const void *value,
    size_t len)
{
	struct cfg_yaml_node *n;

	if (len > SIZE_MAX - sizeof(*n) - 1)
		return NULL;
	if ((n = calloc(1, sizeof(*n) + len + 1)) == NULL)
		return NULL;
	n->kind = kind;
	n->line = (unsigned long)mark->line + 1;
	n->column = (unsigned long)mark->column + 1;
	if (len > 0)
		memcpy(n->value, value, len);
	n->value[len] = '\0';
	n->len = len;
	return n;
}

/* Link a new node under the innermost open collection, or make it root. */
static void
attach(struct builder *b, struct cfg_yaml_node *n)
{
	struct cfg_yaml_node *parent;

	if (b->depth == 0) {
		b->doc->root = n; /* one document, so one root */
		return;
	}
	parent = b->open[b->depth - 1];
	/*
	 * A missing value ("key:" and nothing) is an empty scalar that libyaml
	 * places at the next token, often the next line: show its key instead.
	 */
	if (parent->kind == CFG_YAML_MAPPING && parent->nchild % 2 == 1 &&
	    n->kind == CFG_YAML_SCALAR && n->plain && n->len == 0) {
		n->line = parent->last->line;
		n->column = parent->last->column;
	}
	if (parent->last == NULL)
		parent->child = n;
	else
		parent->last->next = n;
	parent->last = n;
	parent->nchild++;
}

static int
refuse_decorations(struct builder *b, const yaml_mark_t *mark,
    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL)
		return error_at(b->doc, (unsigned long)mark->line + 1,
		    (unsigned long)mark->column + 1, "anchors are not allowed");
	if (tag != NULL)
		return error_at(b->doc, (unsigned long)mark->line + 1,
		    (unsigned long)mark->column + 1, "tags are not allowed");
	return 0;
}

static int
on_event(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct cfg_yaml_node *n;
	enum cfg_yaml_kind kind;
	int r;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return 0;
	case YAML_STREAM_END_EVENT:
		b->done = 1;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->ndocs++ > 0)
			return error_at(b->doc, (unsigned long)m->line + 1,
			    (unsigned long)m->column + 1,
			    "only one document is allowed");
		if (ev->data.document_start.tag_directives.start !=
		    ev->data.document_start.tag_directives.end)
			return error_at(b->doc, (unsigned long)m->line + 1,
			    (unsigned long)m->column + 1,
			    "tag directives are not allowed");
		return 0;
	case YAML_ALIAS_EVENT:
		return error_at(b->doc, (unsigned long)m->line + 1,
		    (unsigned long)m->column + 1, "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		if ((r = refuse_decorations(b, m, ev->data.scalar.anchor,
			 ev->data.scalar.tag)) != 0)
			return r;
		if ((n = node_new(CFG_YAML_SCALAR, m, ev->data.scalar.value,
			 ev->data.scalar.length)) == NULL)
			return cfg_yaml_error(b->doc, NULL, "out of memory");
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		attach(b, n);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			kind = CFG_YAML_SEQUENCE;
			r = refuse_decorations(b, m,
			    ev->data.sequence_start.anchor,
			    ev->data.sequence_start.tag);
		} else {
			kind = CFG_YAML_MAPPING;
			r = refuse_decorations(b, m,
			    ev->data.mapping_start.anchor,
			    ev->data.mapping_start.tag);
		}
		if (r != 0)
			return r;
		if (b->depth >= SD_CONFIG_MAX_DEPTH)
			return error_at(b->doc, (unsigned long)m->line + 1,
			    (unsigned long)m->column + 1,
			    "nesting deeper than %d levels",
			    SD_CONFIG_MAX_DEPTH);
		if ((n = node_new(kind, m, NULL, 0)) == NULL)
			return cfg_yaml_error(b->doc, NULL, "out of memory");
		attach(b, n);
		b->open[b->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth == 0)
			return cfg_yaml_error(b->doc, NULL,
			    "internal error: unbalanced YAML events");
		b->depth--;
		return 0;
	}
	return cfg_yaml_error(
	    b->doc, NULL, "internal error: unknown YAML event");
}

/* libyaml's reader errors carry a byte offset only: turn it into line:col. */
static void
reader_error(struct cfg_yaml_doc *doc, const yaml_parser_t *p,
    const unsigned char *buf, size_t len)
{
	unsigned long line = 1, col = 1;
	size_t i, off;

	off = p->problem_offset < len ? p->problem_offset : len;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	error_at(doc, line, col, "%s",
	    p->problem != NULL ? p->problem : "invalid input");
}

static void
parser_error(struct cfg_yaml_doc *doc, const yaml_parser_t *p,
    const unsigned char *buf, size_t len)
{
	const char *problem = p->problem != NULL ? p->problem : "syntax error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		cfg_yaml_error(doc, NULL, "out of memory");
		return;
	case YAML_READER_ERROR:
		reader_error(doc, p, buf, len);
		return;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		/* libyaml's texts are fixed strings: no input is echoed. */
		if (p->context != NULL)
			error_at(doc, (unsigned long)p->problem_mark.line + 1,
			    (unsigned long)p->problem_mark.column + 1,
			    "%s (%s at %lu:%lu)", problem, p->context,
			    (unsigned long)p->context_mark.line + 1,
			    (unsigned long)p->context_mark.column + 1);
		else
			error_at(doc, (unsigned long)p->problem_mark.line + 1,
			    (unsigned long)p->problem_mark.column + 1, "%s",
			    problem);
		return;
	default:
		cfg_yaml_error(doc, NULL, "YAML error");
		return;
	}
}

struct cfg_yaml_doc *
cfg_yaml_parse(const char *name, const unsigned char *buf, size_t len,
    char *errbuf, size_t errlen)
{
	static const unsigned char empty[1] = { 0 };
	struct cfg_yaml_doc *doc;
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int r = SD_ERR_CONFIG;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (name == NULL)
		name = "(config)";
	if ((doc = calloc(1, sizeof(*doc))) == NULL) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "%s: out of memory", name);
		return NULL;
	}
	doc->name = name;
	doc->errbuf = errbuf;
	doc->errlen = errlen;
	if (buf == NULL) {
		if (len != 0) {
			cfg_yaml_error(doc, NULL, "internal error: no buffer");
			goto out;
		}
		buf = empty;
	}
	if (len > SD_CONFIG_MAX_BYTES) {
		cfg_yaml_error(
		    doc, NULL, "larger than %d bytes", SD_CONFIG_MAX_BYTES);
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		cfg_yaml_error(doc, NULL, "out of memory");
		goto out;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	memset(&b, 0, sizeof(b));
	b.doc = doc;
	while (!b.done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_error(doc, &parser, buf, len);
			break;
		}
		r = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (r != 0)
			break;
	}
	/*
	 * libyaml frees its own copies of the input (tokens, events) without
	 * wiping them; only the tree built here is wiped in cfg_yaml_free.
	 */
	yaml_parser_delete(&parser);
	if (!b.done || doc->failed)
		goto out;
	if (doc->root == NULL) {
		cfg_yaml_error(doc, NULL, "empty file: no YAML document");
		goto out;
	}
	r = 0;
out:
	if (r != 0 || doc->failed) {
		/* Every path above records a reason; this is a safety net. */
		if (errbuf != NULL && errlen > 0 && errbuf[0] == '\0')
			snprintf(errbuf, errlen, "%s: invalid YAML", name);
		cfg_yaml_free(doc);
		return NULL;
	}
	return doc;
}

void
cfg_yaml_free(struct cfg_yaml_doc *doc)
{
	if (doc == NULL)
		return;
	node_free(doc->root);
	free(doc);
}

const struct cfg_yaml_node *
cfg_yaml_root(const struct cfg_yaml_doc *doc)
{
	return doc->root;
}

enum cfg_yaml_kind
cfg_yaml_kind(const struct cfg_yaml_node *node)
{
	return node->kind;
}

unsigned long
cfg_yaml_line(const struct cfg_yaml_node *node)
{
	return node->line;
}

unsigned long
cfg_yaml_column(const struct cfg_yaml_node *node)
{
	return node->column;
}
