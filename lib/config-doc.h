/*
 * config-doc.h - the parameter reference (docs/CONFIG.md) generated from
 * the registry, for `postern config --markdown` (cli/cmd-config.c) and the
 * unit test that keeps docs/CONFIG.md up to date.
 */
#ifndef POSTERN_CONFIG_DOC_H
#define POSTERN_CONFIG_DOC_H

#include <stdio.h>

/* config_doc_markdown - write the whole reference as Markdown to out. */
void config_doc_markdown(FILE *out);

#endif
