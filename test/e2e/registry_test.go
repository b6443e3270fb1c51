package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// registry is one instance from hack/registry, as a client sees it.
type registry struct {
	name       string
	base       string
	client     *http.Client
	user, pass string
}

func registries(t *testing.T) (plain, secure registry) {
	t.Helper()
	dir := filepath.Join(cacheDir(), "registry")
	ports := readEnv(t, filepath.Join(dir, "ports.env"))
	auth := readEnv(t, filepath.Join(dir, "auth.env"))
	pem, err := os.ReadFile(filepath.Join(dir, "certs", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("registry CA: no certificate")
	}
	plain = registry{name: "plain", base: "http://127.0.0.1:" + ports["PLAIN_PORT"],
		client: &http.Client{Timeout: 10 * time.Second}}
	secure = registry{name: "tls", base: "https://127.0.0.1:" + ports["TLS_PORT"],
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
		user: auth["REGISTRY_USER"], pass: auth["REGISTRY_PASSWORD"]}
	return plain, secure
}

func (r registry) do(t *testing.T, method, path string, withAuth bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", manifestAccept)
	if withAuth && r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, r.name, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// The images hack/images pushed with skopeo are in both registries, and the
// OCI distribution API answers for them as a kubelet would ask.
func TestRegistriesServePushedImages(t *testing.T) {
	plain, secure := registries(t)
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))

	for _, r := range []registry{plain, secure} {
		for _, img := range []struct{ repo, digest, mediaType string }{
			{"phase4/app", images["APP_DIGEST"], "application/vnd.oci.image.manifest.v1+json"},
			{"phase4/multi", images["MULTI_DIGEST"], "application/vnd.oci.image.index.v1+json"},
		} {
			head, _ := r.do(t, http.MethodHead, "/v2/"+img.repo+"/manifests/1.0", true)
			if head.StatusCode != http.StatusOK {
				t.Fatalf("%s: HEAD %s:1.0 = %d", r.name, img.repo, head.StatusCode)
			}
			if got := head.Header.Get("Docker-Content-Digest"); got != img.digest || got == "" {
				t.Errorf("%s: %s:1.0 digest %q, want %q", r.name, img.repo, got, img.digest)
			}
			if got := head.Header.Get("Content-Type"); got != img.mediaType {
				t.Errorf("%s: %s:1.0 media type %q, want %q", r.name, img.repo, got, img.mediaType)
			}
			// The digest is the SHA-256 of the manifest bytes, and it resolves by digest too.
			get, body := r.do(t, http.MethodGet, "/v2/"+img.repo+"/manifests/"+img.digest, true)
			sum := sha256.Sum256(body)
			if get.StatusCode != http.StatusOK || "sha256:"+hex.EncodeToString(sum[:]) != img.digest {
				t.Errorf("%s: GET %s@%s = %d, body digest sha256:%x", r.name, img.repo, img.digest, get.StatusCode, sum)
			}
		}
	}

	// The multi-platform image is an index over linux/amd64 and linux/arm64.
	_, body := plain.do(t, http.MethodGet, "/v2/phase4/multi/manifests/1.0", false)
	var index struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct{ Architecture, OS string }
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatalf("multi index: %v", err)
	}
	var platforms []string
	for _, m := range index.Manifests {
		platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
		if resp, _ := plain.do(t, http.MethodHead, "/v2/phase4/multi/manifests/"+m.Digest, false); resp.StatusCode != http.StatusOK {
			t.Errorf("multi: platform manifest %s = %d", m.Digest, resp.StatusCode)
		}
	}
	if fmt.Sprint(platforms) != "[linux/amd64 linux/arm64]" {
		t.Errorf("multi platforms = %v, want [linux/amd64 linux/arm64]", platforms)
	}
}

// The TLS registry refuses a request without credentials and takes one with them.
func TestTLSRegistryRequiresCredentials(t *testing.T) {
	_, secure := registries(t)
	resp, _ := secure.do(t, http.MethodGet, "/v2/", false)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ without credentials = %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="phase4-registry"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	resp, _ = secure.do(t, http.MethodHead, "/v2/phase4/app/manifests/1.0", false)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD manifest without credentials = %d, want 401", resp.StatusCode)
	}
	resp, _ = secure.do(t, http.MethodGet, "/v2/", true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/ with credentials = %d, want 200", resp.StatusCode)
	}
	wrong := secure
	wrong.pass = "not-the-password"
	if resp, _ = wrong.do(t, http.MethodGet, "/v2/", true); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v2/ with a wrong password = %d, want 401", resp.StatusCode)
	}
}

// phase4/bad-layer's manifest resolves but names a layer the registry does not serve.
func TestBadLayerImageHasMissingBlob(t *testing.T) {
	plain, secure := registries(t)
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))
	layer := images["BAD_LAYER_DIGEST"]
	for _, r := range []registry{plain, secure} {
		resp, body := r.do(t, http.MethodGet, "/v2/phase4/bad-layer/manifests/1.0", true)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: bad-layer manifest = %d", r.name, resp.StatusCode)
		}
		var m struct {
			Layers []struct{ Digest string } `json:"layers"`
		}
		if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) != 1 || m.Layers[0].Digest != layer {
			t.Fatalf("%s: bad-layer manifest layers %+v (err %v), want [%s]", r.name, m.Layers, err, layer)
		}
		if resp, _ := r.do(t, http.MethodHead, "/v2/phase4/bad-layer/blobs/"+layer, true); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: HEAD bad-layer blob = %d, want 404", r.name, resp.StatusCode)
		}
		// The same layer is intact in phase4/app: only bad-layer is broken.
		if resp, _ := r.do(t, http.MethodHead, "/v2/phase4/app/blobs/"+layer, true); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: HEAD app blob = %d, want 200", r.name, resp.StatusCode)
		}
	}
}
