/*
 * yamljson.h: YAML (Helm values files, a chart repository's index.yaml) read into cJSON trees
 * the way Helm reads it.
 *
 * Helm decodes YAML with sigs.k8s.io/yaml: go-yaml v2 builds Go values, which then go through
 * JSON. This module gives the tree Helm would see for the same bytes:
 *   - Mappings become objects and sequences arrays. A key is a string: a plain non-string key
 *     becomes the text Helm makes of it (1, 0x1 and 01 give "1", yes, on and y give "true", 1.50
 *     gives "1.5", as Go prints a float32); a null key or a mapping or sequence used as a key is
 *     refused. A key given twice keeps its last value, at the place of its last occurrence
 *     (go-yaml v2 does not complain; v3 would). "<<" merge keys work as in go-yaml v2: the
 *     merged mapping's keys are written where "<<" stands, so later keys override them and
 *     earlier ones are overridden; in a list of mappings the first one wins.
 *   - Plain scalars resolve as go-yaml v2 resolves YAML 1.1: nothing, ~, null, Null, NULL are
 *     null; y Y yes Yes YES true True TRUE on On ON are true, n N no No NO false False FALSE off
 *     Off OFF are false; integers are decimal, 0x hex, 0o or leading-0 octal or 0b binary,
 *     optionally signed, with every '_' ignored (1_000 is 1000); floats are decimal with an
 *     optional fraction and exponent (1.0, .5, 1e3; 08 and 1.0 are floats too); .inf and .nan,
 *     which JSON cannot hold, are refused as Helm refuses them. Anything else is a string:
 *     1.2.3, 2024-01-01, 0x (no digits), 1e400 (out of range). Every number becomes a double,
 *     as in Helm, so integers beyond 2^53 lose precision there as here.
 *   - Quoted and block (| and >) scalars are strings. The tags !!str, !!int, !!float, !!bool
 *     and !!null are honoured (!!int "12" is 12; !!int on "abc" is an error; !!float on an
 *     integer makes a float), !!timestamp keeps the date as text, !!binary is refused, and
 *     other tags are ignored: the scalar is a string. Tags on mappings and sequences are
 *     ignored.
 *   - Anchors and aliases are expanded (an alias is a copy); copies count against the limits
 *     below, so an alias bomb ("billion laughs") fails fast with P4_ERR_TOOBIG. An alias to a
 *     node that contains it, or to an anchor not yet defined, is an error.
 *   - Like helm, p4_yaml_to_json() reads the first document and stops there: what follows
 *     "---" is not looked at. p4_yaml_to_json_all() reads every document.
 *
 * Limits (P4_ERR_TOOBIG past them): input size, nesting depth, nodes and bytes of text after
 * alias expansion, all below.
 *
 * Errors never quote the input, which may be a Secret's: the message says where (line and
 * column, from 1) and what went wrong, in one sentence of printable ASCII. Scratch trees are
 * wiped before they are freed; libyaml's own buffers are not.
 *
 * Ownership: buf is borrowed for the call and need not be NUL-terminated; the tree returned
 * belongs to the caller (cJSON_Delete).
 *
 * Inside, by concern: yamljson.c builds the tree from libyaml's events (aliases, merge keys,
 * limits), yamlscalar.c resolves each scalar, yamlanchor.c keeps a document's anchors.
 */
#ifndef PHASE4_YAMLJSON_H
#define PHASE4_YAMLJSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/error.h"

/* Largest input accepted, in bytes. */
#define P4_YAML_MAX_INPUT ((size_t)16 * 1024 * 1024)
/* Deepest nesting of mappings and sequences, aliases expanded. */
#define P4_YAML_MAX_DEPTH 256
/* Most nodes (values: scalars, mappings, sequences; keys count as bytes) in one call, aliases
 * expanded. A 15 MiB chart index has about 550,000. */
#define P4_YAML_MAX_NODES 1000000
/* Most bytes of keys and strings in one call, aliases expanded. */
#define P4_YAML_MAX_BYTES ((size_t)64 * 1024 * 1024)

/*
 * Parse len bytes of YAML into a cJSON tree (caller frees with cJSON_Delete). The first
 * document; an empty input or document gives a JSON null. NULL with err filled on error
 * (P4_ERR_PARSE with line:column, P4_ERR_TOOBIG past a limit, P4_ERR_INVALID for what JSON
 * cannot hold: .inf/.nan, null or collection keys, NUL characters, !!binary; P4_ERR_INVAL for
 * a NULL buf).
 */
cJSON *p4_yaml_to_json(const char *buf, size_t len, struct p4_error *err);

/*
 * Every document of the stream, as a JSON array in order (caller frees); an empty input gives
 * an empty array, an empty document a null element. The limits apply to the whole stream;
 * anchors are per document. Errors as p4_yaml_to_json().
 */
cJSON *p4_yaml_to_json_all(const char *buf, size_t len, struct p4_error *err);

/*
 * As p4_yaml_to_json_all(), and *lines (caller frees with free(); NULL on error) the line, from
 * 1, where each document of the array begins: its "---", or its first node when it has none
 * (comments before it are not the document). lines must not be NULL.
 */
cJSON *p4_yaml_to_json_all_lines(const char *buf, size_t len, size_t **lines, struct p4_error *err);

#endif
