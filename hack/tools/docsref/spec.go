package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// schema is the part of an OpenAPI v3 schema (as a CRD holds it) the reference shows.
type schema struct {
	Description   string       `yaml:"description"`
	Type          string       `yaml:"type"`
	Format        string       `yaml:"format"`
	Default       any          `yaml:"default"`
	Enum          []any        `yaml:"enum"`
	Required      []string     `yaml:"required"`
	Pattern       string       `yaml:"pattern"`
	MinLength     *int64       `yaml:"minLength"`
	MaxLength     *int64       `yaml:"maxLength"`
	Minimum       *float64     `yaml:"minimum"`
	Maximum       *float64     `yaml:"maximum"`
	MinItems      *int64       `yaml:"minItems"`
	MaxItems      *int64       `yaml:"maxItems"`
	MinProperties *int64       `yaml:"minProperties"`
	IntOrString   bool         `yaml:"x-kubernetes-int-or-string"`
	Preserve      bool         `yaml:"x-kubernetes-preserve-unknown-fields"`
	ListType      string       `yaml:"x-kubernetes-list-type"`
	ListMapKeys   []string     `yaml:"x-kubernetes-list-map-keys"`
	Validations   []validation `yaml:"x-kubernetes-validations"`
	Items         *schema      `yaml:"items"`
	Properties    properties   `yaml:"properties"`
}

type validation struct {
	Rule    string `yaml:"rule"`
	Message string `yaml:"message"`
}

// properties keeps the schema's order of fields, which is the order the CRD's author chose.
type properties []property

type property struct {
	name string
	s    *schema
}

func (p *properties) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: properties is not a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		s := &schema{}
		if err := n.Content[i+1].Decode(s); err != nil {
			return err
		}
		*p = append(*p, property{n.Content[i].Value, s})
	}
	return nil
}

type crd struct {
	Spec struct {
		Group string `yaml:"group"`
		Names struct {
			Kind       string   `yaml:"kind"`
			Plural     string   `yaml:"plural"`
			ShortNames []string `yaml:"shortNames"`
			Categories []string `yaml:"categories"`
		} `yaml:"names"`
		Scope    string `yaml:"scope"`
		Versions []struct {
			Name    string `yaml:"name"`
			Columns []struct {
				Name        string `yaml:"name"`
				Type        string `yaml:"type"`
				JSONPath    string `yaml:"jsonPath"`
				Description string `yaml:"description"`
				Priority    int    `yaml:"priority"`
			} `yaml:"additionalPrinterColumns"`
			Schema struct {
				OpenAPIV3Schema *schema `yaml:"openAPIV3Schema"`
			} `yaml:"schema"`
		} `yaml:"versions"`
	} `yaml:"spec"`
}

// cell makes text fit in one Markdown table cell: one line, | escaped, and < outside code
// spans written as &lt; so that "<generation>" is not read as an HTML tag.
func cell(s string) string {
	s = strings.TrimSpace(strings.Join(strings.Fields(s), " "))
	parts := strings.Split(s, "`")
	for i := 0; i < len(parts); i += 2 {
		parts[i] = strings.ReplaceAll(parts[i], "<", "&lt;")
	}
	return strings.ReplaceAll(strings.Join(parts, "`"), "|", `\|`)
}

// code is s as inline code in a table cell (a backtick inside is not expected in a schema).
func code(s string) string {
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// valueText renders a YAML value (a default, an enum member): a string as it is, others as JSON.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func typeOf(s *schema) string {
	switch {
	case s.IntOrString:
		return "integer or string"
	case s.Type == "array" && s.Items != nil:
		return "[]" + typeOf(s.Items)
	case s.Format != "":
		return s.Type + " (" + s.Format + ")"
	case s.Type == "":
		return "any"
	}
	return s.Type
}

func num(f float64) string { return fmt.Sprintf("%g", f) }

// constraints lists what the API server checks of a value, as short phrases.
func constraints(s *schema) []string {
	var c []string
	if len(s.Enum) > 0 {
		var e []string
		for i := range s.Enum {
			e = append(e, code(valueText(s.Enum[i])))
		}
		c = append(c, "one of "+strings.Join(e, ", "))
	}
	if s.Pattern != "" {
		c = append(c, "pattern "+code(s.Pattern))
	}
	span := func(what string, lo, hi *int64) {
		switch {
		case lo != nil && hi != nil:
			c = append(c, fmt.Sprintf("%s %d to %d", what, *lo, *hi))
		case lo != nil:
			c = append(c, fmt.Sprintf("%s at least %d", what, *lo))
		case hi != nil:
			c = append(c, fmt.Sprintf("%s at most %d", what, *hi))
		}
	}
	span("length", s.MinLength, s.MaxLength)
	span("items", s.MinItems, s.MaxItems)
	span("fields", s.MinProperties, nil)
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		c = append(c, "from "+num(*s.Minimum)+" to "+num(*s.Maximum))
	case s.Minimum != nil:
		c = append(c, "at least "+num(*s.Minimum))
	case s.Maximum != nil:
		c = append(c, "at most "+num(*s.Maximum))
	}
	if s.ListType == "map" {
		c = append(c, "a map list keyed by "+strings.Join(s.ListMapKeys, ", "))
	}
	if s.Preserve {
		c = append(c, "any fields (not checked by the API server)")
	}
	for _, v := range s.Validations {
		c = append(c, "rule "+code(v.Rule)+": "+v.Message)
	}
	return c
}

type row struct {
	path, typ, def, checks, desc string
	required                     bool
}

// walk lists s's fields under path, depth first, in the schema's order.
func walk(path string, s *schema, required bool, rows *[]row) {
	r := row{path: path, typ: typeOf(s), required: required, desc: s.Description}
	if s.Default != nil {
		r.def = code(valueText(s.Default))
	}
	r.checks = strings.Join(constraints(s), "; ")
	if s.Type == "array" && s.Items != nil && (len(constraints(s.Items)) > 0 || s.Items.Description != "") &&
		len(s.Items.Properties) == 0 {
		// An array of scalars: what each item must be is said on the array's row.
		if ic := constraints(s.Items); len(ic) > 0 {
			if r.checks != "" {
				r.checks += "; "
			}
			r.checks += "each item: " + strings.Join(ic, "; ")
		}
		if s.Items.Description != "" {
			r.desc = strings.TrimSpace(r.desc + " Each item: " + s.Items.Description)
		}
	}
	*rows = append(*rows, r)
	children := s
	prefix := path + "."
	if s.Type == "array" && s.Items != nil {
		children = s.Items
		prefix = path + "[]."
		if s.Items.Description != "" && len(s.Items.Properties) > 0 {
			(*rows)[len(*rows)-1].desc = strings.TrimSpace(r.desc + " Each item: " + s.Items.Description)
		}
	}
	req := map[string]bool{}
	for _, n := range children.Required {
		req[n] = true
	}
	for _, p := range children.Properties {
		walk(prefix+p.name, p.s, req[p.name], rows)
	}
}

func table(b *strings.Builder, rows []row) {
	b.WriteString("| field | type | required | default | validation | description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rows {
		req := ""
		if r.required {
			req = "yes"
		}
		desc := cell(r.desc)
		if desc == "" {
			desc = "—"
		}
		fmt.Fprintf(b, "| <a id=\"%s\"></a>`%s` | %s | %s | %s | %s | %s |\n", anchor(r.path), r.path,
			cell(r.typ), req, r.def, r.checks, desc)
	}
}

// anchor is a field path as an HTML id (spec.image.pullSecrets[].name: spec-image-pullsecrets-name).
func anchor(path string) string {
	path = strings.ReplaceAll(path, "[]", "")
	return strings.ToLower(strings.ReplaceAll(path, ".", "-"))
}

// specDoc renders docs/reference/spec.md from the CRD at crdPath (relative to root, for the header).
func specDoc(root, crdPath string) (string, []string, error) {
	data, err := os.ReadFile(root + "/" + crdPath)
	if err != nil {
		return "", nil, err
	}
	var c crd
	if err := yaml.Unmarshal(data, &c); err != nil {
		return "", nil, fmt.Errorf("%s: %v", crdPath, err)
	}
	if len(c.Spec.Versions) == 0 || c.Spec.Versions[0].Schema.OpenAPIV3Schema == nil {
		return "", nil, fmt.Errorf("%s: no versions[].schema.openAPIV3Schema", crdPath)
	}
	var b strings.Builder
	var missing []string
	for _, v := range c.Spec.Versions {
		top := v.Schema.OpenAPIV3Schema
		fmt.Fprintf(&b, "# %s %s/%s: every field\n\n", c.Spec.Names.Kind, c.Spec.Group, v.Name)
		fmt.Fprintf(&b, "<!-- Generated by `hack/docs-ref gen` from %s: edit the CRD's descriptions, not this file. -->\n\n", crdPath)
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(top.Description))
		fmt.Fprintf(&b, "`apiVersion: %s/%s`, `kind: %s`, %s (plural `%s`, short names %s, categories %s). ",
			c.Spec.Group, v.Name, c.Spec.Names.Kind, strings.ToLower(c.Spec.Scope), c.Spec.Names.Plural,
			codes(c.Spec.Names.ShortNames), codes(c.Spec.Names.Categories))
		b.WriteString("This page is generated from the CRD's OpenAPI schema in " +
			"[`" + crdPath + "`](../../" + crdPath + "), the one source of these descriptions, " +
			"and `make test` fails when the two differ. What each condition and reason in the " +
			"status means is in [conditions.md](conditions.md).\n\n")
		b.WriteString("Required fields say `yes`; a default is what the API server fills in when the " +
			"field is absent. Durations are Go-style: `500ms`, `30s`, `5m`, `1h30m`.\n\n")
		for _, val := range top.Validations {
			fmt.Fprintf(&b, "- Checked on the whole object: %s (%s).\n", code(val.Rule), val.Message)
		}
		b.WriteString("\n## `kubectl get` columns\n\n| column | from | shown | description |\n|---|---|---|---|\n")
		for _, col := range v.Columns {
			shown := "always"
			if col.Priority > 0 {
				shown = "`-o wide`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", col.Name, code(col.JSONPath), shown, cell(col.Description))
		}
		for _, p := range top.Properties {
			if p.name != "spec" && p.name != "status" {
				continue
			}
			var rows []row
			walk(p.name, p.s, false, &rows)
			fmt.Fprintf(&b, "\n## `%s`\n\n", p.name)
			if p.name == "status" {
				b.WriteString("Written by the operator only (the `/status` subresource); listed so that " +
					"tools and people reading it know what each field holds.\n\n")
			}
			table(&b, rows)
			for _, r := range rows {
				if strings.TrimSpace(r.desc) == "" {
					missing = append(missing, r.path)
				}
			}
		}
	}
	return b.String(), missing, nil
}

func codes(s []string) string {
	var out []string
	for _, x := range s {
		out = append(out, "`"+x+"`")
	}
	return strings.Join(out, ", ")
}
