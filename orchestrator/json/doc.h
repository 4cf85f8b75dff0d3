/*
 * doc.h - what the JSON writers of json/ share (inside json/ only: it
 * exposes jansson, whose boundary this folder is).
 */
#ifndef MAYFLY_JSON_DOC_H
#define MAYFLY_JSON_DOC_H

#include <jansson.h>

/* The document as text with a final newline; frees doc. Aborts if it cannot. */
char *doc_dump(json_t *doc, int indent);
/* A JSON string; bytes that are not valid UTF-8 become '?'; NULL gives "". */
json_t *doc_str(const char *s);

#endif
