// Command docsref writes the reference pages in docs/reference/ from the sources they
// describe (the CRD's schema, the C code's tables, the operator's --help), and checks
// that the pages in the tree are what it would write, so a reference cannot drift from
// the code. See docs/reference/README.md.
//
//	docsref gen   -root DIR -help FILE   write the pages
//	docsref check -root DIR -help FILE   fail, naming the page and line, when one differs
//
// FILE holds what `phase4-operator --help` prints.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const crdPath = "crds/phase4.io_phase4deployments.yaml"

// page is one file of docs/reference: either all of it generated (whole), or the blocks
// between "<!-- BEGIN GENERATED name -->" and "<!-- END GENERATED name -->" in a page
// otherwise written by hand.
type page struct {
	path   string
	whole  string
	blocks map[string]string
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "gen" && os.Args[1] != "check") {
		fmt.Fprintln(os.Stderr, "usage: docsref gen|check -root DIR -help FILE")
		os.Exit(64)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	root := fs.String("root", ".", "the repository")
	helpFile := fs.String("help", "", "a file holding phase4-operator --help")
	_ = fs.Parse(os.Args[2:])
	if *helpFile == "" {
		fmt.Fprintln(os.Stderr, "docsref: -help FILE is required")
		os.Exit(64)
	}
	pages, problems, err := build(*root, *helpFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docsref:", err)
		os.Exit(1)
	}
	failed := false
	for _, p := range pages {
		got, want, err := render(*root, p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "docsref:", err)
			os.Exit(1)
		}
		if os.Args[1] == "gen" {
			if got != want {
				if err := os.WriteFile(filepath.Join(*root, p.path), []byte(want), 0o644); err != nil {
					fmt.Fprintln(os.Stderr, "docsref:", err)
					os.Exit(1)
				}
				fmt.Println("wrote", p.path)
			}
			continue
		}
		if got != want {
			failed = true
			fmt.Fprintf(os.Stderr, "%s: %s; run hack/docs-ref gen\n", p.path, firstDiff(got, want))
		}
	}
	for _, pr := range problems {
		failed = true
		fmt.Fprintln(os.Stderr, pr)
	}
	if failed {
		os.Exit(1)
	}
}

// render returns the page as it is in the tree and as it should be.
func render(root string, p page) (string, string, error) {
	b, err := os.ReadFile(filepath.Join(root, p.path))
	if err != nil && !(os.IsNotExist(err) && p.whole != "") {
		return "", "", err
	}
	got := string(b)
	if p.whole != "" {
		return got, p.whole, nil
	}
	want := got
	names := make([]string, 0, len(p.blocks))
	for n := range p.blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		begin := "<!-- BEGIN GENERATED " + n + " -->\n"
		end := "<!-- END GENERATED " + n + " -->"
		i := strings.Index(want, begin)
		j := strings.Index(want, end)
		if i < 0 || j < i {
			return "", "", fmt.Errorf("%s: no %q ... %q block", p.path, strings.TrimSpace(begin), end)
		}
		want = want[:i+len(begin)] + p.blocks[n] + want[j:]
	}
	return got, want, nil
}

// firstDiff names the first line where got differs from want.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("line %d differs from what the sources say:\n  have: %.160s\n  want: %.160s", i+1, gl, wl)
		}
	}
	return "differs"
}

// build computes every page, and the problems a page cannot show (a flag the help omits).
func build(root, helpFile string) ([]page, []string, error) {
	var problems []string
	spec, missing, err := specDoc(root, crdPath)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range missing {
		problems = append(problems, fmt.Sprintf("%s: %s has no description; write one in the CRD", crdPath, f))
	}
	help, err := os.ReadFile(helpFile)
	if err != nil {
		return nil, nil, err
	}
	flags, fp, err := flagsDoc(root, string(help))
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, fp...)
	reasons, rp, err := reasonsDoc(root)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, rp...)
	mp, err := metricsCheck(root)
	if err != nil {
		return nil, nil, err
	}
	problems = append(problems, mp...)
	return []page{
		{path: "docs/reference/spec.md", whole: spec},
		{path: "docs/reference/flags.md", blocks: map[string]string{"help": flags}},
		{path: "docs/reference/conditions.md", blocks: reasons},
	}, problems, nil
}
