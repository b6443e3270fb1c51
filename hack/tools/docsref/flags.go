package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

var (
	flagLine    = regexp.MustCompile(`^  (--[a-z][a-z-]*)((?: [A-Z][A-Z/|.\-\[\]]*)?)\s+(.*)$`)
	subLine     = regexp.MustCompile(`^  phase4-operator ([a-z][a-z-]*)(.*)$`)
	contLine    = regexp.MustCompile(`^ {20,}(\S.*)$`)
	defaultText = regexp.MustCompile(`\s*\(default:? ((?:[^()]|\([^()]*\))*)\)`)
	parsedFlag  = regexp.MustCompile(`strcmp\(a, "(--[a-z-]+)"\)`)
)

type helpEntry struct {
	name, arg string
	text      []string // the describing lines, in order
	synopsis  []string // a subcommand's usage lines after its first
}

// parseHelp cuts phase4-operator --help into the operator's flags and the subcommands.
func parseHelp(help string) (flags, subs []*helpEntry) {
	var cur *helpEntry
	for _, line := range strings.Split(help, "\n") {
		if m := subLine.FindStringSubmatch(line); m != nil {
			cur = &helpEntry{name: m[1], arg: strings.TrimSpace(m[2])}
			subs = append(subs, cur)
			continue
		}
		if m := flagLine.FindStringSubmatch(line); m != nil && len(subs) == 0 {
			cur = &helpEntry{name: m[1], arg: strings.TrimSpace(m[2]), text: []string{m[3]}}
			flags = append(flags, cur)
			continue
		}
		if m := contLine.FindStringSubmatch(line); m != nil && cur != nil {
			t := m[1]
			if len(subs) > 0 && cur == subs[len(subs)-1] && len(cur.text) == 0 &&
				(strings.HasPrefix(t, "[") || strings.HasPrefix(t, "--")) {
				cur.synopsis = append(cur.synopsis, t)
			} else {
				cur.text = append(cur.text, t)
			}
			continue
		}
		if m := flagLine.FindStringSubmatch(line); m != nil && m[1] == "--help" {
			flags = append(flags, &helpEntry{name: "--help", text: []string{m[3]}})
		}
		cur = nil
	}
	return flags, subs
}

// flagsDoc is the generated block of docs/reference/flags.md: the flags and subcommands
// from --help, and the problems: a flag the parser in controller/cmd/flags.c accepts that
// --help does not show, or the reverse.
func flagsDoc(root, help string) (string, []string, error) {
	src, err := os.ReadFile(root + "/controller/cmd/flags.c")
	if err != nil {
		return "", nil, err
	}
	flags, subs := parseHelp(help)
	if len(flags) == 0 || len(subs) == 0 {
		return "", nil, fmt.Errorf("the --help text has no flags or no subcommands: is it phase4-operator --help?")
	}
	var problems []string
	shown := map[string]bool{}
	for _, f := range flags {
		shown[f.name] = true
	}
	parsed := map[string]bool{}
	for _, m := range parsedFlag.FindAllStringSubmatch(string(src), -1) {
		parsed[m[1]] = true
		if !shown[m[1]] {
			problems = append(problems, fmt.Sprintf("controller/cmd/flags.c: %s is parsed but phase4-operator --help does not show it", m[1]))
		}
	}
	for _, f := range flags {
		if !parsed[f.name] {
			problems = append(problems, fmt.Sprintf("phase4-operator --help shows %s, which controller/cmd/flags.c does not parse", f.name))
		}
	}
	sort.Strings(problems)

	var b strings.Builder
	b.WriteString("| flag | value | default | what it does |\n|---|---|---|---|\n")
	for _, f := range flags {
		text := strings.Join(f.text, " ")
		def := ""
		if m := defaultText.FindStringSubmatch(text); m != nil {
			def = m[1]
			text = defaultText.ReplaceAllString(text, "")
		}
		fmt.Fprintf(&b, "| <a id=\"%s\"></a>`%s` | %s | %s | %s |\n", strings.TrimLeft(f.name, "-"), f.name,
			codeOrEmpty(f.arg), cell(def), cell(text))
	}
	b.WriteString("\n### Subcommands\n\n| subcommand | arguments | what it does |\n|---|---|---|\n")
	for _, s := range subs {
		args := strings.TrimSpace(s.arg + " " + strings.Join(s.synopsis, " "))
		fmt.Fprintf(&b, "| <a id=\"%s\"></a>`%s` | %s | %s |\n", s.name, s.name, codeOrEmpty(args),
			cell(strings.Join(s.text, " ")))
	}
	b.WriteString("\n### `phase4-operator --help`, as printed\n\n```text\n")
	b.WriteString(strings.TrimRight(help, "\n"))
	b.WriteString("\n```\n")
	return b.String(), problems, nil
}

func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return code(s)
}
