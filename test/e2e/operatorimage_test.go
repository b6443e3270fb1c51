package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// imageUser is the numeric user the Dockerfile runs the operator as.
const imageUser = 65532

// builtImage is what hack/image (make image) wrote about the operator's image;
// the test is skipped when the image was not built.
func builtImage(t testing.TB) map[string]string {
	t.Helper()
	path := filepath.Join(cacheDir(), "image", "image.env")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the operator's image was not built (%s is missing): run `make image` first (`make test` does)", path)
	}
	img := readEnv(t, path)
	if _, err := os.Stat(filepath.Join(img["IMAGE_ROOTFS"], "usr", "local", "bin", "phase4-operator")); err != nil {
		t.Skipf("the operator's image is not unpacked at %s: run `make image` again", img["IMAGE_ROOTFS"])
	}
	if os.Geteuid() != 0 {
		t.Skip("running the image's root filesystem needs root (mount namespaces and chroot)")
	}
	return img
}

// imageConfig is the OCI image config of tag in an OCI layout.
func imageConfig(t testing.TB, layout, tag string) map[string]any {
	t.Helper()
	blob := func(digest string, v any) {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatalf("image layout %s: %v", layout, err)
		}
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil || json.Unmarshal(b, &index) != nil {
		t.Fatalf("image layout %s: index.json: %v", layout, err)
	}
	for _, m := range index.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] != tag {
			continue
		}
		var manifest struct {
			Config struct {
				Digest string `json:"digest"`
			} `json:"config"`
		}
		blob(m.Digest, &manifest)
		var config map[string]any
		blob(manifest.Config.Digest, &config)
		return config
	}
	t.Fatalf("image layout %s has no tag %s", layout, tag)
	return nil
}

// registryDigest is the digest the registry at host serves for repo:tag.
func registryDigest(t testing.TB, ctx context.Context, host, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, repo, tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s/%s:%s: %s", host, repo, tag, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest")
}

// The launcher of startImageOperator, run by unshare in new mount and PID
// namespaces: the image's root filesystem bound read-only, a writable /tmp
// (the emptyDir of a pod), /proc of the new PID namespace and the host's
// /dev, then the operator exec'd in the chroot as the image's user, so it is
// PID 1 as in a container. $1 root, $2 tmp, then the operator's arguments.
const imageLauncher = `set -e
root=$1 tmp=$2
shift 2
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount --bind "$tmp" "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
exec chroot --userspec=` + "65532:65532" + ` "$root" /usr/local/bin/phase4-operator "$@"`

// startImageOperator runs the operator binary of the unpacked image, in the
// image's own root filesystem (its libraries, CA certificates and the helm
// next to the binary), read-only but for /tmp, as the image's non-root user
// and as PID 1; with the operator's least-privilege kubeconfig. At cleanup it
// gets SIGTERM and must exit 0, as with startOperator. It returns the
// directory mounted at /tmp too.
func startImageOperator(t testing.TB, ctx context.Context, rootfs string, args ...string) (*operator, string) {
	t.Helper()
	kc, err := os.ReadFile(operatorKubeconfig(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tmp, "operator.kubeconfig"), string(kc))
	if err := os.Chown(filepath.Join(tmp, "operator.kubeconfig"), imageUser, imageUser); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) }) // files the operator's user wrote
	o := newOperator(t)
	// No --helm-binary and no --cache-dir: the image's defaults are under test.
	opArgs := append(append([]string{"--kubeconfig", "/tmp/operator.kubeconfig"}, o.commonArgs()...), args...)
	cmd := exec.Command("unshare", append([]string{"--mount", "--pid", "--fork", "--kill-child",
		"--propagation", "private", "--", "sh", "-c", imageLauncher, "sh", rootfs, tmp}, opArgs...)...)
	// unshare does not pass SIGTERM on: the operator is its child (the launcher execs into it).
	o.pid = func() (int, error) {
		pid := o.cmd.Process.Pid
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("unshare (pid %d) has no child", pid)
		}
		return strconv.Atoi(f[0])
	}
	launchOperator(t, o, cmd)
	return o, tmp
}

// The operator from the image built by `make image` runs as a container would
// run it (its root filesystem read-only, user 65532, PID 1, no --helm-binary
// or --cache-dir) and takes a Phase4Deployment of the webapp chart, whose
// image is the operator's own image in the local registry, to a SUCCESSFUL
// verdict: its pods run that image pinned to the digest that was built. It
// then exits 0 on SIGTERM.
func TestOperatorFromImage(t *testing.T) {
	img := builtImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	version, digest := img["IMAGE_VERSION"], img["IMAGE_DIGEST"]

	// What the Dockerfile promises, read from the image's config.
	config := imageConfig(t, img["IMAGE_LAYOUT"], version)
	cfg, _ := config["config"].(map[string]any)
	if cfg["User"] != "65532:65532" {
		t.Errorf("image user %v, want 65532:65532", cfg["User"])
	}
	if ep := fmt.Sprint(cfg["Entrypoint"]); ep != "[/usr/local/bin/phase4-operator]" {
		t.Errorf("image entrypoint %s, want [/usr/local/bin/phase4-operator]", ep)
	}
	labels, _ := cfg["Labels"].(map[string]any)
	for _, l := range []string{"source", "version", "revision"} {
		if v, _ := labels["org.opencontainers.image."+l].(string); v == "" {
			t.Errorf("image label org.opencontainers.image.%s is missing (labels %v)", l, labels)
		}
	}
	if labels["org.opencontainers.image.version"] != version {
		t.Errorf("image version label %v, want %s", labels["org.opencontainers.image.version"], version)
	}

	// The image, as built, in this run's registry (it may have been brought up after `make image`).
	plain := plainHost(t)
	repo := "phase4/phase4-operator"
	if out, err := run(ctx, nil, "skopeo", "copy", "-q", "--dest-tls-verify=false",
		"oci:"+img["IMAGE_LAYOUT"]+":"+version, "docker://"+plain+"/"+repo+":"+version); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if got := registryDigest(t, ctx, plain, repo, version); got != digest {
		t.Fatalf("the registry serves %s:%s as %s, want the digest built, %s", repo, version, got, digest)
	}

	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-image")
	op, tmp := startImageOperator(t, ctx, img["IMAGE_ROOTFS"],
		"--helm-timeout", "60s", "--stage-retry-delay", "1s", "--stalled-recheck-interval", "2s",
		"--scan-poll-interval", "1s")
	obj := p4d(ns, "self", map[string]any{"repository": plain + "/" + repo, "tag": version, "insecure": true})
	obj.Object["spec"].(map[string]any)["chart"] = map[string]any{
		"repository": chartsEnv(t)["CHART_REPO_URL"], "name": "webapp", "version": "0.1.0"}
	createP4D(t, ctx, obj)

	obj = waitVerdict(t, ctx, ns, "self", "SUCCESSFUL", 3*time.Minute)
	if c := condition(obj, "Ready"); c == nil || c["status"] != "True" {
		t.Errorf("Ready condition = %v, want True", c)
	}
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != digest {
		t.Errorf("status.image.digest = %q, want %s", d, digest)
	}
	pinned := plain + "/" + repo + "@" + digest
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		for _, c := range p.Spec.Containers {
			if c.Image != pinned {
				t.Errorf("pod %s container %s runs %s, want %s", p.Name, c.Name, c.Image, pinned)
			}
		}
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	if running == 0 {
		t.Errorf("no pod of the chart is Running: %d pods", len(pods.Items))
	}

	// It wrote only under /tmp (the rest is read-only), in the default cache
	// dir, as the image's user.
	for _, d := range []string{"phase4-operator/charts", "phase4-operator/helm"} {
		fi, err := os.Stat(filepath.Join(tmp, d))
		if err != nil {
			t.Errorf("/tmp/%s: %v (is --cache-dir's default not /tmp/phase4-operator?)", d, err)
		} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != imageUser {
			t.Errorf("/tmp/%s is not owned by user %d", d, imageUser)
		}
	}

	// It ran as a container runs it: PID 1, with the image's own helm at the pinned version.
	for _, want := range []string{"running as PID 1", `msg="helm found"`, "version=" + img["IMAGE_HELM_VERSION"]} {
		if !strings.Contains(op.log(), want) {
			t.Errorf("the operator's log lacks %q:\n%s", want, op.log())
		}
	}
}
