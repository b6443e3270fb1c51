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
// runs the digest the Docker stage checked, and every other image (the
// sidecar) is checked pullable as the Docker stage checks its own, then
// pinned to its digest (spec.image.pinAll, the default). The tests read the pods the
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
	sidecarPinned := host + "/phase4/app@" + images["APP_DIGEST"]
	op := kubeOperator(t, ctx)
	withSidecar := func(repository string) map[string]any {
		return map[string]any{"image": map[string]any{"tag": "latest"},
			"metrics": map[string]any{"enabled": true, "image": map[string]any{"registry": host, "repository": repository, "tag": "1.0"}}}
	}
	bitnamiPaths := map[string]any{"registry": "image.registry", "repository": "image.repository"}

	// Bitnami-style: registry and repository named in valuesPaths; the user's
	// image.tag "latest" (and the appVersion default) do not get round the pin;
	// the sidecar's own image is checked in its registry and pinned to its digest.
	createP4D(t, ctx, pinnedP4D(t, ns, "bitnami", "regweb", "1.2.3", bitnamiPaths, withSidecar("phase4/app")))
	// The same with spec.image.pinAll false: the sidecar is checked but runs as written.
	aswritten := pinnedP4D(t, ns, "aswritten", "regweb", "1.2.3", bitnamiPaths, withSidecar("phase4/app"))
	aswritten.Object["spec"].(map[string]any)["image"].(map[string]any)["pinAll"] = false
	createP4D(t, ctx, aswritten)
	// A sidecar image the registry does not have: nothing is applied.
	createP4D(t, ctx, pinnedP4D(t, ns, "nosuch", "regweb", "1.2.3", bitnamiPaths, withSidecar("phase4/nosuch")))
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
	if g := helmGate(getP4DOrFail(t, ctx, ns, "bitnami"), "ImagesPullable"); g == nil || g["reason"] != "ImagesPullable" ||
		!strings.Contains(fmt.Sprint(g["message"]), "1 other image(s) checked pullable and pinned: "+host+"/phase4/app@"+images["APP_DIGEST"][:19]) {
		t.Errorf("bitnami: gate ImagesPullable = %v, want it to name the sidecar pinned to its digest", g)
	}
	if g := helmGate(getP4DOrFail(t, ctx, ns, "nested"), "ImagesPullable"); g == nil || g["reason"] != "NoOtherImages" {
		t.Errorf("nested: gate ImagesPullable = %v, want NoOtherImages", g)
	}
	checkPodsRun(t, ctx, ns, "bitnami", "regweb", checked, map[string]string{"metrics": sidecarPinned})
	checkPodsRun(t, ctx, ns, "nested", "controller", checked, nil)
	// What is stored for the Kubernetes stage is what was dry-run: pinned.
	manifest := manifestOf(t, ctx, ns, "phase4.bitnami.v1")
	if img := containerImage(manifestObject(t, manifest, "Deployment", "bitnami-regweb")); img != checked {
		t.Errorf("the stored manifest's Deployment runs %q, want %s", img, checked)
	}
	if !strings.Contains(manifest, `"image":"`+sidecarPinned+`"`) || strings.Contains(manifest, sidecar) {
		t.Errorf("the stored manifest does not run the sidecar as %s:\n%s", sidecarPinned, manifest)
	}

	// pinAll false: checked, and left as the chart wrote it.
	obj := waitKubeReady(t, ctx, ns, "aswritten", 1)
	checkHelmPassed(t, obj)
	if g := helmGate(obj, "ImagesPullable"); g == nil || !strings.Contains(fmt.Sprint(g["message"]), "left as written") ||
		!strings.Contains(fmt.Sprint(g["message"]), sidecar) {
		t.Errorf("aswritten: gate ImagesPullable = %v, want the sidecar checked and left as written", g)
	}
	checkPodsRun(t, ctx, ns, "aswritten", "regweb", checked, map[string]string{"metrics": sidecar})

	// The missing sidecar: the Docker stage's reason for a missing image, the image and where it runs named.
	expectHelmFailure(t, ctx, ns, "nosuch", "ImagesPullable", "ImageNotFound", "RegenerationRequired",
		host+"/phase4/nosuch:1.0", "Deployment nosuch-regweb, container metrics")
	waitEvent(t, ctx, ns, "nosuch", "Warning", "ImageNotFound", "")
	// /metrics counts the registry checks of other images and the answers the cache gave.
	eventually(t, 10*time.Second, "the image checks counted in /metrics", func() (bool, string, error) {
		text := scrape(op)
		checks, hits := metricValue(text, "phase4_helm_image_checks_total"), metricValue(text, "phase4_helm_image_cache_hits_total")
		return checks >= 1 && checks+hits >= 3, fmt.Sprintf("checks %v, hits %v", checks, hits), nil
	})

	expectHelmFailure(t, ctx, ns, "prefixed", "ImagePinned", "ImageNotReferenced", "RegenerationRequired",
		"docker.io/"+host+"/phase4/multi@"+images["MULTI_DIGEST"], "not a valid image reference", "image.registry")
	waitEvent(t, ctx, ns, "prefixed", "Warning", "ImageNotReferenced", "")
	obj = expectHelmFailure(t, ctx, ns, "unpinned", "ImagePinned", "ImageNotReferenced", "RegenerationRequired",
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
	for _, name := range []string{"prefixed", "unpinned", "nosuch"} {
		if pods := podImages(t, ctx, ns, name); len(pods) != 0 {
			t.Errorf("%s: %d pod(s) exist, want none: a chart whose images are not all checked is not applied", name, len(pods))
		}
	}
}

// getP4DOrFail reads ns/name or fails the test.
func getP4DOrFail(t testing.TB, ctx context.Context, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := getP4D(ctx, ns, name)
	if err != nil {
		t.Fatalf("%s/%s: %v", ns, name, err)
	}
	return obj
}

// metricValue is the value of the unlabelled series name in Prometheus text, or -1.
func metricValue(text, name string) float64 {
	for _, l := range strings.Split(text, "\n") {
		var v float64
		if strings.HasPrefix(l, name+" ") {
			if _, err := fmt.Sscanf(strings.TrimPrefix(l, name+" "), "%g", &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// With spec.image.scan.scope all, the scan policy applies to the chart's
// other images too: a sidecar whose attached report has a CRITICAL finding
// fails ImagesPullable with VulnerabilitiesFound naming the image, where it
// runs and the CVE, and nothing is applied; one with no report passes
// (scan.required is false) and the gate says so.
func TestHelmScansOtherImagesWhenScopeAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-pin-scan")
	host := plainHost(t)
	plain, _ := registries(t)
	repo := "phase4/exporter-" + ns
	digest := pushVariant(t, plain, repo)
	attachReport(t, plain, repo, digest, manifestSize(t, plain, repo, "1.0"), trivyType, []byte(criticalReport))
	kubeOperator(t, ctx)

	release := func(name, sidecar string) *unstructured.Unstructured {
		obj := pinnedP4D(t, ns, name, "regweb", "1.2.3",
			map[string]any{"registry": "image.registry", "repository": "image.repository"},
			map[string]any{"metrics": map[string]any{"enabled": true,
				"image": map[string]any{"registry": host, "repository": sidecar, "tag": "1.0"}}})
		obj.Object["spec"].(map[string]any)["image"].(map[string]any)["scan"] = map[string]any{"scope": "all", "maxSeverity": "HIGH"}
		return obj
	}
	createP4D(t, ctx, release("vulnerable", repo))
	createP4D(t, ctx, release("unscanned", "phase4/app"))

	expectHelmFailure(t, ctx, ns, "vulnerable", "ImagesPullable", "VulnerabilitiesFound", "RegenerationRequired",
		host+"/"+repo+":1.0", "Deployment vulnerable-regweb, container metrics", "CVE-2024-5535")
	if pods := podImages(t, ctx, ns, "vulnerable"); len(pods) != 0 {
		t.Errorf("vulnerable: %d pod(s) exist, want none", len(pods))
	}
	obj := waitKubeReady(t, ctx, ns, "unscanned", 1)
	if g := helmGate(obj, "ImagesPullable"); g == nil || !strings.Contains(fmt.Sprint(g["message"]), "0 of them with a scan report under HIGH") {
		t.Errorf("unscanned: gate ImagesPullable = %v, want it to say no report was found", g)
	}
}
