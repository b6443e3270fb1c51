package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	typeLine   = regexp.MustCompile(`# TYPE (phase4_[a-z0-9_%]+) (counter|gauge|histogram|summary|untyped)`)
	docMetric  = regexp.MustCompile("^\\| `(phase4_[a-z0-9_]+)` \\| (counter|gauge|histogram|summary|untyped) \\|")
	stageWork  = regexp.MustCompile(`\.work = "([a-z]+)"`)
	stageNames = []string{"docker", "helm", "kubernetes", "validation"}
)

// sourceMetrics lists every metric family the code writes on /metrics (its "# TYPE" lines),
// with the per-stage families written for each stage.
func sourceMetrics(root string) (map[string]string, error) {
	files, err := cSources(root, "controller")
	if err != nil {
		return nil, err
	}
	work := map[string]string{}
	for _, st := range stageNames {
		work[st] = "checks"
		if m := stageWork.FindStringSubmatch(files["controller/stages/"+st+"/stage.c"]); m != nil {
			work[st] = m[1]
		}
	}
	out := map[string]string{}
	for _, src := range files {
		for _, m := range typeLine.FindAllStringSubmatch(src, -1) {
			name := m[1]
			if !strings.Contains(name, "%s") {
				out[name] = m[2]
				continue
			}
			if !strings.HasPrefix(name, "phase4_%s_stage_") {
				return nil, fmt.Errorf("a metric name with %%s this check cannot expand: %s", name)
			}
			for _, st := range stageNames {
				n := strings.Replace(name, "%s", st, 1)
				n = strings.Replace(n, "%s", work[st], 1)
				out[n] = m[2]
			}
		}
	}
	return out, nil
}

// docMetrics reads the metrics table of docs/reference/metrics.md: name → type.
func docMetrics(root string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "docs/reference/metrics.md"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := docMetric.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out, nil
}

// metricsCheck: docs/reference/metrics.md lists exactly the families the code writes, each
// with its type. (test/e2e/operator_test.go holds the page against a running operator's
// /metrics too.)
func metricsCheck(root string) ([]string, error) {
	src, err := sourceMetrics(root)
	if err != nil {
		return nil, err
	}
	doc, err := docMetrics(root)
	if err != nil {
		return nil, err
	}
	var problems []string
	for n, t := range src {
		switch d, ok := doc[n]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("docs/reference/metrics.md: %s (%s), which the operator exposes, is not listed", n, t))
		case d != t:
			problems = append(problems, fmt.Sprintf("docs/reference/metrics.md: %s is listed as a %s; the code writes a %s", n, d, t))
		}
	}
	for n := range doc {
		if _, ok := src[n]; !ok {
			problems = append(problems, fmt.Sprintf("docs/reference/metrics.md: %s is listed, but no code writes it", n))
		}
	}
	sort.Strings(problems)
	return problems, nil
}
