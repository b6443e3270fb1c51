/*
 * stages/docker/sign.c: the Docker stage's S_SIGN step (steps.h): when
 * spec.image.signature asks for it, a cosign signature over the pinned
 * digest, read from the registry's "sha256-<hex>.sig" tag, that verifies with
 * the public key read in S_GATHER.
 */
#include "phase4/core/json.h"
#include "steps.h"

#define SIG_LAYERS_MAX 8

bool p4_docker_sigs_verdict(int rc, const struct p4_error *e, const char *body, size_t len,
                            const char *digest, const char *host, struct p4_cosign_sigs *sigs,
                            struct verdict *v)
{
    struct p4_error err;

    p4_cosign_sigs_free(sigs);
    if (rc == 0 && p4_cosign_parse_sigs(body, len, sigs, &err) == 0)
        return false;
    *v = (struct verdict){.outcome = V_FAIL,
                          .gate = G_SIGNED,
                          .cls = P4_FAIL_ARTIFACT,
                          .reason = "SignatureNotFound"};
    p4_error_set(&v->err, P4_ERR_INVALID, "%s has no cosign signature in registry %s (%s)", digest,
                 host, rc != 0 ? e->message : err.message);
    return true;
}

static void verify_next(struct run *r);

static void on_sig_blob(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);

    if (r == NULL)
        return;
    if (a->rc != 0) {
        if (p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SIGNED))
            return;
        r->w->sig_err = a->err;
    } else if (p4_cosign_verify(r->w->sigkey, (const unsigned char *)a->body, a->len,
                                r->w->sigs.layers[r->w->sig_i].signature, r->digest,
                                &r->w->sig_err) == 0) {
        p4_stagerun_gate(&r->base, G_SIGNED, "True", "SignatureVerified",
                         "%s is signed by the key in Secret %s/%s", r->digest, r->base.ns,
                         p4_json_str(r->image, "signature.publicKeySecretRef.name"));
        p4_stagerun_next(&r->base, S_DONE);
        return;
    }
    r->w->sig_i++;
    verify_next(r);
}

/* Fetch the next signature's payload; on_sig_blob verifies it. */
static void verify_next(struct run *r)
{
    struct work *w = r->w;

    for (; w->sig_i < w->sigs.n && w->sig_i < SIG_LAYERS_MAX; w->sig_i++) {
        r->base.inflight++;
        if (p4_registry_blob_get(stage_of(r)->cfg.registry, &w->target, w->ref.repository,
                                 w->sigs.layers[w->sig_i].digest, on_sig_blob, r) == 0)
            return;
        r->base.inflight--;
        p4_error_set(&w->sig_err, P4_ERR_INVALID, "cannot read signature payload %s",
                     w->sigs.layers[w->sig_i].digest);
    }
    p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureInvalid",
                      "no signature of %s verifies with the key in Secret %s/%s: %s", r->digest,
                      r->base.ns, p4_json_str(r->image, "signature.publicKeySecretRef.name"),
                      w->sig_err.message);
}

static void on_sig_manifest(const struct p4_registry_answer *a, void *data)
{
    struct run *r = (struct run *)p4_stagerun_back(data);
    struct verdict v;

    if (r == NULL)
        return;
    if (a->rc != 0 && p4_docker_registry_trouble(r, a->rc, &a->err, a->retry_after_ms, G_SIGNED))
        return;
    if (p4_docker_sigs_verdict(a->rc, &a->err, a->body, a->len, r->digest, r->w->host, &r->w->sigs,
                               &v)) {
        p4_docker_fail(r, &v);
        return;
    }
    r->w->sig_i = 0;
    p4_error_set(&r->w->sig_err, P4_ERR_INVALID, "no signed layer");
    verify_next(r);
}

void p4_docker_sign(struct run *r)
{
    char tag[96];

    if (!r->want_signature) {
        p4_stagerun_next(&r->base, S_DONE);
        return;
    }
    if (p4_cosign_sig_tag(r->digest, tag, sizeof(tag)) != 0) {
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureNotFound",
                          "signatures are looked up for sha256 digests only, not %s", r->digest);
        return;
    }
    r->base.inflight++;
    if (p4_registry_manifest(stage_of(r)->cfg.registry, &r->w->target, r->w->ref.repository, tag,
                             on_sig_manifest, r) != 0) {
        r->base.inflight--;
        p4_stagerun_failf(&r->base, P4_FAIL_ARTIFACT, G_SIGNED, "SignatureNotFound",
                          "cannot ask registry %s for %s", r->w->host, tag);
    }
}
