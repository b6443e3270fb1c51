package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestCLiteralsSkipsComments(t *testing.T) {
	src := "/* \"NotThis\" */ x = \"Reason\"; // \"NorThis\"\n" +
		"c = '\"'; y = \"Esc\\\"aped\";\n" +
		"z = \"Second\";\n"
	var got []string
	for _, l := range cLiterals("f.c", src) {
		got = append(got, l.text)
	}
	want := []string{"Reason", `Esc\"aped`, "Second"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("literals = %q, want %q", got, want)
	}
	if l := cLiterals("f.c", src); l[2].line != 3 {
		t.Errorf("line of Second = %d, want 3", l[2].line)
	}
}

func TestWordLiteral(t *testing.T) {
	for s, want := range map[string]bool{
		"ImageNotFound": true, "CABundleInvalid": true, "Ready": true, "TLSError": true,
		"GET": false, "SUCCESSFUL": false, "image": false, "Not Found": false, "a-b": false,
	} {
		if got := wordLiteral.MatchString(s); got != want {
			t.Errorf("wordLiteral(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseHelp(t *testing.T) {
	help := "usage: phase4-operator [flags]\n\n" +
		"  --concurrent N          reconciles at once (default 4)\n" +
		"  --cache-dir DIR                   charts and helm's cache (default\n" +
		"                                    /tmp/x)\n" +
		"  --version               print the versions and exit\n\n" +
		"  phase4-operator resolve APIVERSION KIND [--context NAME]\n" +
		"                          [--kubeconfig PATH]\n" +
		"                          print the resource that serves a kind\n" +
		"  --help                  print this help\n"
	flags, subs := parseHelp(help)
	var names []string
	for _, f := range flags {
		names = append(names, f.name)
	}
	if want := []string{"--concurrent", "--cache-dir", "--version", "--help"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("flags = %q, want %q", names, want)
	}
	if got := strings.Join(flags[1].text, " "); got != "charts and helm's cache (default /tmp/x)" {
		t.Errorf("--cache-dir text = %q", got)
	}
	if len(subs) != 1 || subs[0].name != "resolve" || len(subs[0].synopsis) != 1 ||
		strings.Join(subs[0].text, " ") != "print the resource that serves a kind" {
		t.Errorf("subcommands = %+v", subs[0])
	}
}

func TestCell(t *testing.T) {
	got := cell("a | b\n  <generation> `x <y> | z`")
	want := "a \\| b &lt;generation> `x <y> \\| z`"
	if got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
}

func TestRemedies(t *testing.T) {
	src := "static const struct remedy remedies[] = {\n" +
		"    {\"ImageNotFound\", \"push the image \"\n \"again\"},\n" +
		"    {\"Quoted\", \"say \\\"hi\\\"\"},\n};\n"
	got, err := remedies(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ImageNotFound": "push the image again", "Quoted": `say "hi"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("remedies = %q, want %q", got, want)
	}
	if _, err := remedies("no table"); err == nil {
		t.Error("remedies without a table: no error")
	}
}
