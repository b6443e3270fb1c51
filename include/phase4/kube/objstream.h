/*
 * objstream.h: Kubernetes objects read one at a time from text as kubectl and the API server
 * print them (`kubectl get -o yaml`, `-o json`, `jq '.items[]'`, `kubectl get --raw`, helm
 * template's output). phase4-operator health reads its input with it.
 *
 * JSON or YAML, told by the first byte that is not whitespace:
 *   - '{' or '[': JSON values one after another (one, or a stream of them as jq writes). The
 *     whole text is checked with jsonscan.h before any object is given, and only the object being
 *     given is a tree, so up to P4_OBJSTREAM_INPUT_MAX bytes are read in the memory of one
 *     object. Text that begins so but is not JSON is read as YAML (a flow mapping is YAML too);
 *     when it is not YAML either, the JSON error is told, with its line and column.
 *   - anything else: YAML, every document, read as Helm reads it (yamljson.h), up to
 *     P4_YAML_MAX_INPUT bytes (larger input: give JSON).
 * Text that cannot be read is refused before any object is given.
 *
 * Each document (a YAML document or a JSON value) is, in order:
 *   - null (an empty document): skipped, and so is a null item;
 *   - a list: an object whose kind is "List" or ends in "List" ("DeploymentList", as the API
 *     server answers a list) with an items array (or null): each item in turn. An item of a typed
 *     list without kind or apiVersion (the API server leaves them out) gets the list's kind less
 *     "List" and the list's apiVersion;
 *   - an array: each element in turn (lists are not nested: an element that is a list is an
 *     object like any other, and is refused for having no metadata.name);
 *   - anything else: one object.
 * An object given is a JSON object with a non-empty string kind and metadata.name (what
 * p4_health_eval() needs); apiVersion may be absent. Anything else ends the stream: P4_ERR_INVALID
 * naming the document (from 1), the item (from 1) and the line ("document 2 (line 14), item 3
 * (Deployment web): metadata.name is missing"). Text quoted from the input is cut and made
 * printable ASCII.
 *
 * p4_manifest_split() (apply.h) reads a manifest to apply it, as Helm does: YAML, apiVersion
 * required, only "List" flattened, at most P4_MANIFEST_OBJECTS_MAX objects, all at once. This
 * reads what the cluster printed, to look at it.
 *
 * Ownership: buf is borrowed until p4_objstream_free(); each object given belongs to the caller.
 */
#ifndef PHASE4_OBJSTREAM_H
#define PHASE4_OBJSTREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "phase4/core/error.h"
#include "phase4/core/json.h"

/* Largest input, in bytes (JSON; YAML stops at P4_YAML_MAX_INPUT). */
#define P4_OBJSTREAM_INPUT_MAX P4_JSON_PARSE_MAX

struct p4_objstream;

/*
 * A stream over len bytes of buf (borrowed until p4_objstream_free). NULL with err when the
 * text cannot be read whole: P4_ERR_TOOBIG past the limits, P4_ERR_PARSE (not JSON nor YAML,
 * with the line and column), P4_ERR_INVALID (YAML that JSON cannot hold, yamljson.h),
 * P4_ERR_INVAL for a NULL buf. Caller frees with p4_objstream_free.
 */
struct p4_objstream *p4_objstream_new(const char *buf, size_t len, struct p4_error *err);

/*
 * The next object into *obj (caller frees with cJSON_Delete): returns 1; 0 past the last; or,
 * with *obj NULL and err saying where, P4_ERR_INVALID (a document or item that is not such an
 * object) or P4_ERR_TOOBIG (an object nested deeper than cJSON reads, CJSON_NESTING_LIMIT). After
 * an error or the end it returns 0.
 */
int p4_objstream_next(struct p4_objstream *s, cJSON **obj, struct p4_error *err);

void p4_objstream_free(struct p4_objstream *s);

#endif
