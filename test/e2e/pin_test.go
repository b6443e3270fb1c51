package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Charts written like popular public ones build their image from values of
// their own: regweb like Bitnami's (image.registry + image.repository +
// image.tag, the appVersion by default, or image.digest; a metrics sidecar),
// nestedctl like ingress-nginx's (controller.image.*, tag and digest both).
// Whatever they render, every container that names the checked repository
// runs the digest the Docker stage checked. The tests read the pods the
// Deployments made from the API server, as a user would with
// `kubectl get pods -o jsonpath='{..image}'`: KWOK runs any image name, so
// only the pod spec tells.

// pinnedP4D is helmP4D for chart (name, version) with spec.image.valuesPaths set when paths is not nil.
func pinnedP4D(t testing.TB, ns, name, chart, version string, paths, values map[string]any) *unstructured.Unstructured {
	obj := helmP4D(t, ns, name, map[string]any{"repository": chartsEnv(t)["CHART_REPO_URL"],
		"name": chart, "version": version, "values": values})
	if paths != nil {
		obj.Object["spec"].(map[string]any)["image"].(map[string]any)["valuesPaths"] = paths
	}
	return obj
}

// podImages lists the pods of release name in ns (label app.kubernetes.io/instance).
func podImages(t testing.TB, ctx context.Context, ns, name string) (pods []corev1.Pod) {
	t.Helper()
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + name})
	if err != nil {
		t.Fatalf("pods of %s/%s: %v", ns, name, err)
	}
	return list.Items
}

// checkPodsRun checks every pod of release name: container main runs want,
// and every other container named in others runs the image given there.
func checkPodsRun(t testing.TB, ctx context.Context, ns, name, main, want string, others map[string]string) {
	t.Helper()
	pods := podImages(t, ctx, ns, name)
	if len(pods) == 0 {
		t.Fatalf("%s: no pod of the release in %s", name, ns)
	}
	for _, p := range pods {
		seen := map[string]string{}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			seen[c.Name] = c.Image
		}
		if seen[main] != want {
			t.Errorf("%s: pod %s container %s runs %q, want the checked %s (pod's containers: %v)", name, p.Name, main, seen[main], want, seen)
		}
		for c, img := range others {
			if seen[c] != img {
				t.Errorf("%s: pod %s container %s runs %q, want %q", name, p.Name, c, seen[c], img)
			}
		}
	}
}

func TestHelmPinsTheCheckedImageInRealCharts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-pin")
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))
	host := plainHost(t)
	checked := host + "/phase4/multi@" + images["MULTI_DIGEST"]
	sidecar := host + "/phase4/app:1.0"
	op := kubeOperator(t, ctx)

	// Bitnami-style: registry and repository named in valuesPaths; the user's
	// image.tag "latest" (and the appVersion default) do not get round the pin;
	// the sidecar keeps its own image.
	createP4D(t, ctx, pinnedP4D(t, ns, "bitnami", "regweb", "1.2.3",
		map[string]any{"registry": "image.registry", "repository": "image.repository"},
		map[string]any{"image": map[string]any{"tag": "latest"},
			"metrics": map[string]any{"enabled": true, "image": map[string]any{"registry": host, "repository": "phase4/app", "tag": "1.0"}}}))
	// ingress-nginx-style: the image under controller.image; its tag v1.12.0 is not in the registry.
	createP4D(t, ctx, pinnedP4D(t, ns, "nested", "nestedctl", "4.12.0",
		map[string]any{"registry": "controller.image.registry", "repository": "controller.image.image"}, nil))
	// The same charts without valuesPaths: neither runs the checked image, and
	// the stage says what they run instead of passing.
	createP4D(t, ctx, pinnedP4D(t, ns, "prefixed", "regweb", "1.2.3", nil, nil))
	createP4D(t, ctx, pinnedP4D(t, ns, "unpinned", "nestedctl", "4.12.0", nil, nil))

	for _, name := range []string{"bitnami", "nested"} {
		obj := waitKubeReady(t, ctx, ns, name, 1)
		checkHelmPassed(t, obj)
		if g := helmGate(obj, "ImagePinned"); g == nil || !strings.Contains(fmt.Sprint(g["message"]), "rewritten from") {
			t.Errorf("%s: gate ImagePinned = %v, want it to name what was rewritten", name, g)
		}
		c := condition(obj, "HelmReady")
		if msg := fmt.Sprint(c["message"]); !strings.Contains(msg, checked) {
			t.Errorf("%s: HelmReady message %q does not name the checked image %s", name, msg, checked)
		}
	}
	checkPodsRun(t, ctx, ns, "bitnami", "regweb", checked, map[string]string{"metrics": sidecar})
	checkPodsRun(t, ctx, ns, "nested", "controller", checked, nil)
	// What is stored for the Kubernetes stage is what was dry-run: pinned.
	manifest := manifestOf(t, ctx, ns, "phase4.bitnami.v1")
	if img := containerImage(manifestObject(t, manifest, "Deployment", "bitnami-regweb")); img != checked {
		t.Errorf("the stored manifest's Deployment runs %q, want %s", img, checked)
	}

	expectHelmFailure(t, ctx, ns, "prefixed", "ImagePinned", "ImageNotReferenced", "RegenerationRequired",
		"docker.io/"+host+"/phase4/multi@"+images["MULTI_DIGEST"], "not a valid image reference", "image.registry")
	waitEvent(t, ctx, ns, "prefixed", "Warning", "ImageNotReferenced", "")
	obj := expectHelmFailure(t, ctx, ns, "unpinned", "ImagePinned", "ImageNotReferenced", "RegenerationRequired",
		"registry.k8s.io/ingress-nginx/controller:v1.12.0", "spec.image.valuesPaths")
	if g := helmGate(obj, "DryRun"); g != nil && g["status"] == "True" {
		t.Errorf("unpinned: gate DryRun = %v, want it not passed after ImagePinned failed", g)
	}
	// A gate that fails is in the operator's log too, at warn, with the resource's key.
	eventually(t, 10*time.Second, "the failed gate logged at warn", func() (bool, string, error) {
		for _, l := range strings.Split(op.log(), "\n") {
			if strings.Contains(l, "level=warn") && strings.Contains(l, `msg="gate failed"`) &&
				strings.Contains(l, "key="+ns+"/unpinned") && strings.Contains(l, "gate=ImagePinned") &&
				strings.Contains(l, "reason=ImageNotReferenced") {
				return true, "", nil
			}
		}
		return false, "no warn line for unpinned's ImagePinned gate", nil
	})
	for _, name := range []string{"prefixed", "unpinned"} {
		if pods := podImages(t, ctx, ns, name); len(pods) != 0 {
			t.Errorf("%s: %d pod(s) exist, want none: a chart that does not run the checked image is not applied", name, len(pods))
		}
	}
}
