package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// readyEndpoints counts the ready endpoints of service's EndpointSlices, and the slices.
func readyEndpoints(ctx context.Context, ns, service string) (ready, slices int, err error) {
	list, err := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, 0, err
	}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready++
			}
		}
	}
	return ready, len(list.Items), nil
}

// newNamespace makes a namespace for one test and deletes it afterwards.
func newNamespace(t testing.TB, ctx context.Context, prefix string) string {
	t.Helper()
	ns, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		releaseFinalizers(ns.Name)
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	// The ServiceAccount admission plugin needs the namespace's default account.
	eventually(t, 30*time.Second, "default ServiceAccount in "+ns.Name, func() (bool, string, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err), nil
	})
	return ns.Name
}

// releaseFinalizers deletes every Phase4Deployment left in ns after taking the operator's
// deletion finalizer off it, as the README tells a user to once the operator is gone: a test's
// operator has stopped by the time its namespace is deleted, and nothing would release them, so
// the namespace would stay Terminating. It waits (briefly) until none is left, so that no later
// operator finds them; deleting them here, rather than waiting for the namespace controller to
// get to them, keeps that wait short.
func releaseFinalizers(ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		list, err := dyn.Resource(p4dGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return
		}
		for _, item := range list.Items {
			for i, f := range item.GetFinalizers() {
				if f == "phase4.io/uninstall" {
					patch := fmt.Sprintf(`[{"op":"test","path":"/metadata/finalizers/%d","value":"phase4.io/uninstall"},`+
						`{"op":"remove","path":"/metadata/finalizers/%d"}]`, i, i)
					_, _ = dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, item.GetName(), types.JSONPatchType,
						[]byte(patch), metav1.PatchOptions{})
				}
			}
			_ = dyn.Resource(p4dGVR).Namespace(ns).Delete(ctx, item.GetName(), metav1.DeleteOptions{})
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func container(image string) corev1.Container {
	return corev1.Container{
		Name:  "app",
		Image: image,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}
}

func podsWithLabel(ctx context.Context, ns, selector string) ([]corev1.Pod, error) {
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// A Deployment, a Service and a Job behave as in a real cluster: pods are
// scheduled onto KWOK nodes and go Running, the Service gets ready endpoints,
// the Job completes, logs come back, and deleting the Deployment removes its pods.
func TestWorkloadsRunOnKwokNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-workloads")
	labels := map[string]string{"app": "web"}

	_, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{container("registry.invalid/web:1.0")}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	_, err = kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	_, err = kube.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{container("registry.invalid/migrate:1.0")},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create job: %v", err)
	}

	eventually(t, time.Minute, "3 web pods Running and Ready on KWOK nodes", func() (bool, string, error) {
		pods, err := podsWithLabel(ctx, ns, "app=web")
		if err != nil {
			return false, "", err
		}
		ready := 0
		var seen []string
		for _, p := range pods {
			seen = append(seen, fmt.Sprintf("%s:%s@%s", p.Name, p.Status.Phase, p.Spec.NodeName))
			if p.Status.Phase == corev1.PodRunning && isReady(p) && strings.HasPrefix(p.Spec.NodeName, "kwok-node-") {
				ready++
			}
		}
		return ready == 3 && len(pods) == 3, strings.Join(seen, " "), nil
	})

	eventually(t, time.Minute, "the web Service's EndpointSlices to list 3 ready endpoints", func() (bool, string, error) {
		ready, slices, err := readyEndpoints(ctx, ns, "web")
		return ready == 3, fmt.Sprintf("%d ready endpoints in %d slices", ready, slices), err
	})

	eventually(t, time.Minute, "the Job to complete", func() (bool, string, error) {
		job, err := kube.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		for _, c := range job.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, "", nil
			}
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return false, "", fmt.Errorf("job failed: %s", c.Message)
			}
		}
		return false, fmt.Sprintf("succeeded=%d active=%d", job.Status.Succeeded, job.Status.Active), nil
	})

	pods, err := podsWithLabel(ctx, ns, "app=web")
	if err != nil {
		t.Fatal(err)
	}
	logs, err := kubectl(ctx, "logs", "-n", ns, pods[0].Name)
	if err != nil || !strings.Contains(logs, "phase4 local cluster: ready") {
		t.Fatalf("kubectl logs %s: err=%v, output:\n%s", pods[0].Name, err, logs)
	}

	if err := kube.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatalf("delete deployment: %v", err)
	}
	eventually(t, time.Minute, "the Deployment's pods to be gone", func() (bool, string, error) {
		pods, err := podsWithLabel(ctx, ns, "app=web")
		return len(pods) == 0, fmt.Sprintf("%d pods left", len(pods)), err
	})
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// bare makes a pod with the given labels and annotations, never restarted.
func bare(ctx context.Context, t testing.TB, ns, name string, labels, annotations map[string]string) {
	t.Helper()
	_, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{container("registry.invalid/" + name + ":1.0")},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
}

// Pods made to misbehave on purpose (KWOK stages) show it the way a kubelet would.
func TestPodsFailOnPurpose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-failures")

	bare(ctx, t, ns, "fails", map[string]string{"pod-container-running-failed.stage.kwok.x-k8s.io": "true"},
		map[string]string{
			"pod-container-running-failed.stage.kwok.x-k8s.io/exit-code": "3",
			"pod-container-running-failed.stage.kwok.x-k8s.io/reason":    "Error",
			"pod-container-running-failed.stage.kwok.x-k8s.io/message":   "segfault in main",
		})
	bare(ctx, t, ns, "crashes", map[string]string{"phase4.io/kwok-behaviour": "crashloop"}, nil)
	bare(ctx, t, ns, "cannot-pull", map[string]string{"phase4.io/kwok-behaviour": "image-pull-backoff"}, nil)
	bare(ctx, t, ns, "stays-pending", map[string]string{"phase4.io/kwok-behaviour": "pending"}, nil)

	state := func(name string) (*corev1.Pod, error) {
		return kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	}
	eventually(t, time.Minute, "pod fails to be Failed with exit code 3", func() (bool, string, error) {
		p, err := state("fails")
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, fmt.Sprint(err), nil
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		return p.Status.Phase == corev1.PodFailed && term != nil && term.ExitCode == 3 && term.Message == "segfault in main",
			fmt.Sprintf("phase=%s terminated=%+v", p.Status.Phase, term), nil
	})
	waiting := func(name, reason string) {
		eventually(t, time.Minute, "pod "+name+" waiting in "+reason, func() (bool, string, error) {
			p, err := state(name)
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, fmt.Sprint(err), nil
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == reason && !isReady(*p), fmt.Sprintf("phase=%s waiting=%+v", p.Status.Phase, w), nil
		})
	}
	waiting("crashes", "CrashLoopBackOff")
	waiting("cannot-pull", "ImagePullBackOff")

	// The pending pod is scheduled onto a KWOK node but is never started.
	eventually(t, time.Minute, "pod stays-pending to be scheduled", func() (bool, string, error) {
		p, err := state("stays-pending")
		if err != nil {
			return false, "", err
		}
		return p.Spec.NodeName != "", "not scheduled yet", nil
	})
	p, err := state("stays-pending")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 0 {
		t.Fatalf("stays-pending: phase %s, %d container statuses; want Pending, none", p.Status.Phase, len(p.Status.ContainerStatuses))
	}

	// What a user reads: `kubectl get pods` shows each failure's reason.
	out, err := kubectl(ctx, "get", "pods", "-n", ns, "--no-headers")
	if err != nil {
		t.Fatalf("kubectl get pods: %v\n%s", err, out)
	}
	for _, want := range []string{`fails\s+0/1\s+Error`, `crashes\s+0/1\s+CrashLoopBackOff\s+5`, `cannot-pull\s+0/1\s+ImagePullBackOff`, `stays-pending\s+0/1\s+Pending`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("kubectl get pods: no line matching %q in:\n%s", want, out)
		}
	}
}

var portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}
var logsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}

// `kubectl port-forward` to a fake pod reaches a real local server (KWOK
// PortForward), and a pod can be given its own log lines (KWOK Logs).
func TestPortForwardAndLogsReachRealProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-forward")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "real server behind %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	bare(ctx, t, ns, "web", nil, nil)
	logFile := t.TempDir() + "/web.log"
	writeFile(t, logFile, criLog("GET /healthz 200", "ERROR database unreachable"))
	for _, obj := range []*unstructured.Unstructured{
		{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
			"metadata": map[string]any{"name": "web", "namespace": ns},
			"spec": map[string]any{"forwards": []any{map[string]any{
				"ports": []any{int64(8080)}, "target": map[string]any{"address": "127.0.0.1", "port": int64(port)}}}},
		}},
		{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": "web", "namespace": ns},
			"spec":     map[string]any{"logs": []any{map[string]any{"containers": []any{"app"}, "logsFile": logFile}}},
		}},
	} {
		gvr := portForwardGVR
		if obj.GetKind() == "Logs" {
			gvr = logsGVR
		}
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", obj.GetKind(), err)
		}
	}
	eventually(t, time.Minute, "pod web Running", func() (bool, string, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase), nil
	})

	eventually(t, 30*time.Second, "kubectl logs to return the pod's own lines", func() (bool, string, error) {
		out, err := kubectl(ctx, "logs", "-n", ns, "web")
		return err == nil && strings.Contains(out, "ERROR database unreachable"), out, nil
	})

	// kubectl port-forward picks a local port and prints it.
	pf := exec.CommandContext(ctx, tool("kubectl"), "port-forward", "-n", ns, "pod/web", ":8080")
	stdout, err := pf.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	local := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		n, _ := io.ReadAtLeast(stdout, buf, 1)
		m := regexp.MustCompile(`127\.0\.0\.1:(\d+) ->`).FindStringSubmatch(string(buf[:n]))
		if m != nil {
			local <- m[1]
		}
		close(local)
	}()
	var localPort string
	select {
	case localPort = <-local:
	case <-ctx.Done():
	}
	if localPort == "" {
		t.Fatal("kubectl port-forward did not report a local port")
	}
	resp, err := http.Get("http://127.0.0.1:" + localPort + "/through-kwok")
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "real server behind /through-kwok" {
		t.Fatalf("port-forward answered %q", body)
	}
}
