package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// readerView is what `kubectl get p4d` prints of a status: a write that
// changes none of it is a line `kubectl get -w` repeats for nothing.
func readerView(obj *unstructured.Unstructured) string {
	stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage")
	verdict, _, _ := unstructured.NestedString(obj.Object, "status", "verdict")
	ready := condition(obj, "Ready")
	return fmt.Sprint(stage, "|", verdict, "|", ready["status"], "|", ready["message"])
}

// BenchmarkValidationToReady measures, for Phase4Deployments of the webapp
// chart with one health check through the service proxy and one smoke-test
// Job (KWOK completes its pod), the logs read, and no metrics, the time from
// create to Ready=True (the verdict SUCCESSFUL), one object at a time, and
// the status writes each generation costs: all of them, and those that
// change nothing `kubectl get p4d` prints. P4_BENCH_VALIDATIONS objects
// (default 50). Run by `make bench`; it asserts nothing about speed.
func BenchmarkValidationToReady(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	installCRD(b, ctx)
	ns := newNamespace(b, ctx, "bench-validate")
	benchImage = "127.0.0.1:" + readEnv(b, filepath.Join(cacheDir(), "registry", "ports.env"))["PLAIN_PORT"] + "/phase4/app"
	benchCharts = chartsEnv(b)["CHART_REPO_URL"]
	var hits atomic.Int64
	serveBehindService(b, ctx, ns, "health", healthHandler(&hits))
	n := 50
	if v := os.Getenv("P4_BENCH_VALIDATIONS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	cfg := *restConfig
	cfg.QPS, cfg.Burst = 1000, 2000
	client := dynamic.NewForConfigOrDie(&cfg)
	op := startOperator(b, ctx, "--kube-api-qps", "1000", "--kube-api-burst", "2000", "--concurrent", "8",
		"--helm-binary", helmBinary(b), "--cache-dir", b.TempDir())
	eventually(b, time.Minute, "the operator to lead and be ready", func() (bool, string, error) {
		code, _, _ := httpGet(op.probes + "/readyz")
		return code == 200 && metric(scrape(op), "phase4_leader") == "1", "", nil
	})

	// Every status write the benchmark's objects get, seen through a watch.
	var mu sync.Mutex
	writes, silent := map[string]int{}, map[string]int{}
	last, readyAt := map[string]string{}, map[string]time.Time{}
	lastStatus := map[string]map[string]any{}
	w, err := client.Resource(p4dGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			name, view := obj.GetName(), readerView(obj)
			st, _, _ := unstructured.NestedMap(obj.Object, "status")
			mu.Lock()
			if reflect.DeepEqual(st, lastStatus[name]) {
				mu.Unlock() // a write of metadata (the finalizer), not of status
				continue
			}
			lastStatus[name] = st
			writes[name]++
			if last[name] == view {
				silent[name]++
			}
			last[name] = view
			if c := condition(obj, "Ready"); c["status"] == "True" {
				if _, done := readyAt[name]; !done {
					readyAt[name] = time.Now()
				}
			}
			mu.Unlock()
		}
	}()

	var lat []time.Duration
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("v-%03d", i)
		obj := benchObject(ns, name, true)
		obj.Object["spec"].(map[string]any)["validation"] = map[string]any{
			"http":       []any{map[string]any{"service": "health", "port": 80, "path": "/healthz", "interval": "500ms"}},
			"smokeTests": []any{smokeTest("ping", nil, nil)}}
		start := time.Now()
		if _, err := client.Resource(p4dGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		eventually(b, 2*time.Minute, name+" Ready=True", func() (bool, string, error) {
			mu.Lock()
			defer mu.Unlock()
			_, ok := readyAt[name]
			return ok, tail(op.log(), 300), nil
		})
		mu.Lock()
		lat = append(lat, readyAt[name].Sub(start))
		mu.Unlock()
	}
	// The last writes of the last object (the verdict's Event follows its write) settle.
	time.Sleep(2 * time.Second)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	mu.Lock()
	total, quiet := 0, 0
	for _, c := range writes {
		total += c
	}
	for _, c := range silent {
		quiet += c
	}
	mu.Unlock()
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(p50.Milliseconds()), "create-to-Ready-p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "create-to-Ready-p99-ms")
	b.ReportMetric(float64(total)/float64(n), "status-writes-per-generation")
	b.ReportMetric(float64(quiet)/float64(n), "unseen-writes-per-generation")
	b.Logf("\n| what | result |\n|---|---|\n"+
		"| create → Ready=True (verdict SUCCESSFUL: 4 stages, 1 health check through the service proxy, 1 smoke-test Job, the logs), p50 (%d creates, one at a time) | %.2f s |\n"+
		"| create → Ready=True, p99 | %.2f s |\n"+
		"| status writes per generation (create to verdict) | %.1f |\n"+
		"| of which change nothing `kubectl get p4d` prints (STAGE, VERDICT, READY, MESSAGE) | %.1f |\n",
		n, p50.Seconds(), p99.Seconds(), float64(total)/float64(n), float64(quiet)/float64(n))
}
