package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// literal is one C string literal and the line it is on.
type literal struct {
	text, file string
	line       int
}

// cLiterals lists the string literals of C source, comments left out. Adjacent literals are
// not joined: a reason is always one literal.
func cLiterals(file, src string) []literal {
	var out []literal
	line := 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			line++
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i += 2
			for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
				if src[i] == '\n' {
					line++
				}
				i++
			}
			i++
		case c == '\'':
			for i++; i < len(src) && src[i] != '\''; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case c == '"':
			start := i + 1
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			if i <= len(src) {
				out = append(out, literal{src[start:min(i, len(src))], file, line})
			}
		}
	}
	return out
}

// cSources reads every .c and .h file under the given folders of root.
func cSources(root string, dirs ...string) (map[string]string, error) {
	files := map[string]string{}
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !(strings.HasSuffix(p, ".c") || strings.HasSuffix(p, ".h")) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files[rel] = string(b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

var (
	wordLiteral  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$`)
	failClass    = regexp.MustCompile(`P4_FAIL_(TRANSIENT|ARTIFACT|CLUSTER)`)
	remedyEntry  = regexp.MustCompile(`(?s)\{"([A-Za-z]+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}`)
	strPart      = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	gateArray    = regexp.MustCompile(`(?s)gate_names\[G_COUNT\] = \{(.*?)\};`)
	readmeGate   = regexp.MustCompile("^\\| `([A-Za-z]+)` \\|")
	gateConst    = regexp.MustCompile(`\bG_[A-Z]+\b`)
	gateEnumDecl = regexp.MustCompile(`enum gate \{([^}]*?),\s*G_COUNT\s*\}`)
	backticked   = regexp.MustCompile("`([A-Z][A-Za-z0-9]+)`")
)

// A capitalised literal in the code is a reason the operator writes unless it is one of
// these words, which are what it reads or names, never a condition's or a gate's or an
// Event's reason: Kubernetes kinds and their list kinds, condition types, statuses and
// Event reasons it reads on other objects (and reports under a reason of its own, such as
// NodePressure or Unschedulable), kstatus's words, field and enum values of a spec, a
// scan report or a kubeconfig, YAML 1.1 booleans, HTTP status texts, auth schemes, Event
// types. Adding a reason to the code adds a row to conditions.md (and
// `make test` fails until the page is regenerated); a new literal that is not a reason
// belongs here.
var notReasons = words(`
	ClusterRole ClusterRoleBinding ClusterRoleBindingList ClusterRoleList ConfigMap CronJob
	CustomResourceDefinition DaemonSet Deployment DeploymentList Event ExecCredential
	HorizontalPodAutoscaler Ingress IngressClass Job Lease LimitRange List
	MutatingWebhookConfiguration Namespace NetworkPolicy PersistentVolume PersistentVolumeClaim
	Phase4Deployment Phase4Deployments Pod PodDisruptionBudget PodMonitor PodSecurityPolicy
	PriorityClass ReplicaSet ReplicationController ResourceQuota Role RoleBinding
	RoleBindingList RoleList Secret SecretList Service ServiceAccount ServiceMonitor
	StatefulSet StorageClass ValidatingAdmissionPolicy ValidatingWebhookConfiguration
	VulnerabilityReport ClusterVulnerabilityReport DeleteOptions Status APIService
	APIGroupDiscoveryList
	True False Unknown Normal Warning
	Available Established NamesAccepted PodScheduled FailureTarget
	SuccessCriteriaMet Lost Evicted Running Failed
	Current InProgress NotEstablished NamesNotAccepted
	ClusterIP ExternalName LoadBalancer OnDelete OnFailure Never Background IfAvailable
	NotIn DoesNotExist Namespaced Cluster Orphan Delete DeleteCRDs Parallel Serial
	Docker Helm Kubernetes Validation Rollback Approval Verdict
	RollbackTo RollbackOnFailure
	VulnerabilityID PkgName InstalledVersion FixedVersion SchemaVersion
	Err Error Fail Failure Failures Update Denied
	OutOfMemoryError Results Severity Vulnerabilities
	Accepted Created Always Basic Bearer Exists In Yes No On Off Null
	NewReplicaSetAvailable ReplicaSetCreateError FailedScheduling FailedCreate BackOff
	EvictionThresholdMet NodeHasDiskPressure NodeHasInsufficientMemory NodeHasInsufficientPID
	OOMKilled FieldManagerConflict InspectFailed
	Passed Done
`)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

var (
	setCondition    = regexp.MustCompile(`set_condition\(conds, (?:"(\w+)"|(P4_\w+_CONDITION))`)
	conditionDefine = regexp.MustCompile(`#define (P4_\w+_CONDITION) "(\w+)"`)
	stageConditions = regexp.MustCompile(`stage_conditions\[P4_STAGE_COUNT\] = \{([^}]*)\}`)
	addType         = regexp.MustCompile(`add_str\(c, "type", "(\w+)"\)`)
	tableFirstCell  = regexp.MustCompile("^\\| ([^|]*) \\|")
	backtickedWord  = regexp.MustCompile("`([A-Za-z]+)`")
)

// conditionTypes lists the condition types the code writes on a Phase4Deployment: the
// reconciler's set_condition calls (by name or through a P4_*_CONDITION macro), the stages'
// conditions and the Notified condition notify.c builds.
func conditionTypes(files map[string]string) map[string]bool {
	defs := map[string]string{}
	for _, src := range files {
		for _, m := range conditionDefine.FindAllStringSubmatch(src, -1) {
			defs[m[1]] = m[2]
		}
	}
	out := map[string]bool{}
	for p, src := range files {
		if !strings.HasPrefix(p, "controller/reconciler/") {
			continue
		}
		for _, m := range setCondition.FindAllStringSubmatch(src, -1) {
			if m[1] != "" {
				out[m[1]] = true
			} else if d := defs[m[2]]; d != "" {
				out[d] = true
			}
		}
		if m := stageConditions.FindStringSubmatch(src); m != nil {
			for _, q := range strPart.FindAllStringSubmatch(m[1], -1) {
				out[q[1]] = true
			}
		}
		for _, m := range addType.FindAllStringSubmatch(src, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// conditionsCheck: the hand-written Conditions table of conditions.md has a row for each
// condition type the code writes, and none for a type it does not.
func conditionsCheck(root string, types map[string]bool) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "docs/reference/conditions.md"))
	if err != nil {
		return nil, err
	}
	page := string(b)
	i, j := strings.Index(page, "\n## Conditions\n"), strings.Index(page, "\n## Gates\n")
	if i < 0 || j < i {
		return nil, fmt.Errorf("docs/reference/conditions.md: no Conditions section before Gates")
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(page[i:j], "\n") {
		if m := tableFirstCell.FindStringSubmatch(line); m != nil {
			for _, w := range backtickedWord.FindAllStringSubmatch(m[1], -1) {
				listed[w[1]] = true
			}
		}
	}
	var problems []string
	for t := range types {
		if !listed[t] {
			problems = append(problems, fmt.Sprintf("docs/reference/conditions.md: the code writes condition %s; the Conditions table has no row for it", t))
		}
	}
	for t := range listed {
		if !types[t] {
			problems = append(problems, fmt.Sprintf("docs/reference/conditions.md: the Conditions table lists %s, a condition no code writes", t))
		}
	}
	sort.Strings(problems)
	return problems, nil
}

// area names where a source file's reasons show, from its folder.
func area(file string) string {
	switch {
	case strings.HasPrefix(file, "controller/stages/"):
		s := strings.Split(file, "/")[2]
		return strings.ToUpper(s[:1]) + s[1:] + " stage"
	case strings.HasPrefix(file, "controller/reconciler/approval"):
		return "approval"
	case strings.HasPrefix(file, "controller/reconciler/rollback"):
		return "rollback"
	case strings.HasPrefix(file, "controller/reconciler/notif"):
		return "notifications"
	case strings.HasPrefix(file, "controller/reconciler/finalizer"):
		return "deletion"
	case strings.HasPrefix(file, "controller/reconciler/tenancy"):
		return "tenancy"
	case strings.HasPrefix(file, "controller/reconciler/"):
		return "reconciler"
	case strings.HasPrefix(file, "controller/oci/"), strings.HasPrefix(file, "include/phase4/oci/"):
		return "registry client"
	case strings.HasPrefix(file, "controller/scan/"), strings.HasPrefix(file, "include/phase4/scan/"):
		return "scan reports"
	case strings.HasPrefix(file, "controller/kube/"), strings.HasPrefix(file, "include/phase4/kube/"):
		return "API client"
	case strings.HasPrefix(file, "controller/runtime/"):
		return "runtime"
	case strings.HasPrefix(file, "controller/cmd/"):
		return "command line"
	case strings.HasPrefix(file, "include/phase4/core/error.h"), strings.HasPrefix(file, "controller/core/"):
		return "any (error codes)"
	case strings.HasPrefix(file, "include/phase4/stages/"):
		s := strings.Split(file, "/")[3]
		return strings.ToUpper(s[:1]) + s[1:] + " stage"
	case strings.HasPrefix(file, "include/phase4/reconciler/"):
		return "reconciler"
	}
	return file
}

// remedies reads verdict.c's table of remedies and the default remedy of each class.
func remedies(src string) (map[string]string, error) {
	i := strings.Index(src, "remedies[] = {")
	j := strings.Index(src[max(i, 0):], "\n};")
	if i < 0 || j < 0 {
		return nil, fmt.Errorf("controller/reconciler/verdict.c: no remedies[] table")
	}
	out := map[string]string{}
	for _, m := range remedyEntry.FindAllStringSubmatch(src[i:i+j], -1) {
		var t strings.Builder
		for _, p := range strPart.FindAllStringSubmatch(m[2], -1) {
			t.WriteString(strings.ReplaceAll(p[1], `\"`, `"`))
		}
		out[m[1]] = t.String()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("controller/reconciler/verdict.c: the remedies[] table is empty")
	}
	return out, nil
}

// classRemedies reads p4_verdict_remedy's default for each class.
func classRemedies(src string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`(?s)case P4_FAIL_([A-Z]+):\s*return ((?:"(?:[^"\\]|\\.)*"\s*)+);`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		var t strings.Builder
		for _, p := range strPart.FindAllStringSubmatch(m[2], -1) {
			t.WriteString(p[1])
		}
		out[m[1]] = t.String()
	}
	return out
}

// readmeGates maps each reason the README's gate tables list under "fails with" to the
// gates it is listed for.
func readmeGates(readme string) map[string][]string {
	out := map[string][]string{}
	inGates := false
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| gate | passes when | fails with |") {
			inGates = true
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inGates = false
			continue
		}
		m := readmeGate.FindStringSubmatch(line)
		if !inGates || m == nil {
			continue
		}
		cols := strings.Split(line, " | ")
		for _, r := range backticked.FindAllStringSubmatch(cols[len(cols)-1], -1) {
			out[r[1]] = appendOnce(out[r[1]], m[1])
		}
	}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// reasonsDoc is the generated blocks of docs/reference/conditions.md: the gates of each
// stage, and every reason the code writes with where it shows, its class where the code
// names one beside it, and its remedy.
func reasonsDoc(root string) (map[string]string, []string, error) {
	files, err := cSources(root, "controller", "include")
	if err != nil {
		return nil, nil, err
	}
	rem, err := remedies(files["controller/reconciler/verdict.c"])
	if err != nil {
		return nil, nil, err
	}
	classRem := classRemedies(files["controller/reconciler/verdict.c"])
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, nil, err
	}
	gatesOf := readmeGates(string(readme))

	// The gates, from each stage's gate-name table, in status.gates order.
	gates := map[string]string{}
	gateEnum := map[string]map[string]string{} // stage → G_ constant → gate name
	var gb strings.Builder
	gb.WriteString("| stage | condition | gates, in order |\n|---|---|---|\n")
	stageCond := map[string]string{"docker": "DockerReady", "helm": "HelmReady", "kubernetes": "KubernetesReady", "validation": "Validated"}
	for _, st := range []string{"docker", "helm", "kubernetes", "validation"} {
		src := files["controller/stages/"+st+"/stage.c"]
		m := gateArray.FindStringSubmatch(src)
		if m == nil {
			return nil, nil, fmt.Errorf("controller/stages/%s/stage.c: no gate_names[G_COUNT] table", st)
		}
		var names []string
		e := gateEnumDecl.FindStringSubmatch(files["controller/stages/"+st+"/steps.h"])
		if e == nil {
			return nil, nil, fmt.Errorf("controller/stages/%s/steps.h: no enum gate", st)
		}
		consts := strings.Split(e[1], ",")
		gateEnum[st] = map[string]string{}
		for i, p := range strPart.FindAllStringSubmatch(m[1], -1) {
			names = append(names, "`"+p[1]+"`")
			gates[p[1]] = strings.ToUpper(st[:1]) + st[1:]
			if i < len(consts) {
				gateEnum[st][strings.TrimSpace(consts[i])] = p[1]
			}
		}
		fmt.Fprintf(&gb, "| %s | `%s` | %s |\n", strings.ToUpper(st[:1])+st[1:], stageCond[st], strings.Join(names, ", "))
	}

	type info struct {
		areas   []string
		classes []string
		gates   []string
		files   []string
	}
	reasons := map[string]*info{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		src := files[p]
		lines := strings.Split(src, "\n")
		for _, l := range cLiterals(p, src) {
			if !wordLiteral.MatchString(l.text) || notReasons[l.text] || gates[l.text] != "" {
				continue
			}
			in := reasons[l.text]
			if in == nil {
				in = &info{}
				reasons[l.text] = in
			}
			in.files = appendOnce(in.files, p)
			// The class and the gate the code names beside the reason: on its line, or on the
			// line before in the same block (a statement begun there, or the class set just
			// before the reason: v->cls = ...; v->reason = ...;).
			near := lines[l.line-1]
			if l.line >= 2 {
				if prev := strings.TrimSpace(lines[l.line-2]); prev != "" &&
					!strings.HasSuffix(prev, "{") && !strings.HasSuffix(prev, "}") {
					near = prev + " " + near
				}
			}
			for _, c := range failClass.FindAllStringSubmatch(near, -1) {
				in.classes = appendOnce(in.classes, strings.ToLower(c[1]))
			}
			if st := stageOf(p); st != "" {
				for _, g := range gateConst.FindAllString(near, -1) {
					if name := gateEnum[st][g]; name != "" {
						in.gates = appendOnce(in.gates, title(st)+" `"+name+"`")
					}
				}
			}
		}
	}
	for _, in := range reasons {
		for _, f := range in.files {
			// The remedies table names a reason; it does not write it.
			if f != "controller/reconciler/verdict.c" || len(in.files) == 1 {
				in.areas = appendOnce(in.areas, area(f))
			}
		}
	}
	types := conditionTypes(files)
	problems, err := conditionsCheck(root, types)
	if err != nil {
		return nil, nil, err
	}
	// A reason the remedies table names must be one the code writes elsewhere.
	for r := range rem {
		if in := reasons[r]; in == nil || len(in.files) == 1 && in.files[0] == "controller/reconciler/verdict.c" {
			problems = append(problems, fmt.Sprintf("controller/reconciler/verdict.c: a remedy for %s, which no other code writes", r))
		}
	}
	sort.Strings(problems)

	names := make([]string, 0, len(reasons))
	for r := range reasons {
		names = append(names, r)
	}
	sort.Strings(names)
	var rb strings.Builder
	meanings, err := keptMeanings(root)
	if err != nil {
		return nil, nil, err
	}
	rb.WriteString("| reason | shows in | gate | class | meaning | remedy |\n|---|---|---|---|---|---|\n")
	for _, r := range names {
		in := reasons[r]
		kind := ""
		if types[r] {
			kind = " (also a condition type)"
		}
		for _, x := range gatesOf[r] {
			in.gates = appendOnce(in.gates, gates[x]+" `"+x+"`")
		}
		sort.Strings(in.gates)
		g := strings.Join(in.gates, ", ")
		remedy := rem[r]
		if remedy == "" {
			remedy = "—"
		}
		sort.Strings(in.classes)
		meaning := meanings[r]
		if meaning == "" {
			problems = append(problems, fmt.Sprintf("docs/reference/conditions.md: the reason %s has no meaning: "+
				"run hack/docs-ref gen, then write one in its row", r))
		}
		fmt.Fprintf(&rb, "| <a id=\"%s\"></a>`%s`%s | %s | %s | %s | %s | %s |\n", strings.ToLower(r), r, kind,
			strings.Join(in.areas, ", "), g, strings.Join(in.classes, ", "), meaning, cell(remedy))
	}

	var cb strings.Builder
	cb.WriteString("| class | what it is | default remedy (a reason without its own) |\n|---|---|---|\n")
	for _, c := range []struct{ name, what string }{
		{"TRANSIENT", "waiting may heal it: the gate is `Unknown`, retried with backoff"},
		{"ARTIFACT", "the image, chart or values are at fault: retried `spec.rollout.retries` times, then `Stalled` with `RegenerationRequired`"},
		{"CLUSTER", "a person must act on the cluster: `Stalled` with `EscalatedToUser` at once, re-checked now and then"},
	} {
		fmt.Fprintf(&cb, "| `%s` | %s | %s |\n", strings.ToLower(c.name), c.what, cell(classRem[c.name]))
	}
	return map[string]string{"gates": gb.String(), "reasons": rb.String(), "classes": cb.String()}, problems, nil
}

var (
	reasonRow = regexp.MustCompile("^\\| <a id=\"[^\"]*\"></a>`([A-Za-z0-9]+)`")
	cellSep   = regexp.MustCompile(`[^\\]\|`)
)

// keptMeanings reads the meaning column of conditions.md's reason table: the one column
// written by hand, kept when the table is generated again.
func keptMeanings(root string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "docs/reference/conditions.md"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "<!-- BEGIN GENERATED reasons -->"):
			in = true
		case strings.HasPrefix(line, "<!-- END GENERATED reasons -->"):
			in = false
		}
		m := reasonRow.FindStringSubmatch(line)
		if !in || m == nil {
			continue
		}
		// The cells, split at each | that is not escaped.
		var cells []string
		last := 0
		for _, loc := range cellSep.FindAllStringIndex(line, -1) {
			cells = append(cells, line[last:loc[0]+1])
			last = loc[1]
		}
		if len(cells) >= 6 {
			out[m[1]] = strings.TrimSpace(cells[4])
		}
	}
	return out, nil
}

// stageOf names the stage folder a source file is in ("" outside controller/stages/).
func stageOf(file string) string {
	if !strings.HasPrefix(file, "controller/stages/") {
		return ""
	}
	return strings.Split(file, "/")[2]
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
