// Command helm-template renders a Helm chart offline, the way `helm template` does, without helm.
//
// No helm binary can be installed on the project's machines (see shared STACK.md, "Helm charts
// without helm"). Helm's template engine is Go's text/template plus the sprig function library
// plus a handful of helm functions (toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray, include, tpl, required, lookup) and
// the built-in objects .Values/.Release/.Chart/.Capabilities/.Files/.Template. This program
// rebuilds exactly that from Debian's packages, so the chart's tests exercise the same engine:
//
//	apt-get install golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./hack/helm-template CHART_DIR [flags]
//
// Flags:
//
//	--name NAME            release name (default "kto")
//	--namespace NS         release namespace (default "default")
//	--values FILE          extra values file (YAML or JSON), merged over values.yaml; repeatable
//	--set-json JSON        a JSON object merged over the values (after --values); repeatable
//	--kube-version V       .Capabilities.KubeVersion (default v1.31.0)
//	--api-versions A,B     extra .Capabilities.APIVersions (group/version or group/version/Kind)
//	--notes                print the rendered templates/NOTES.txt instead of the manifests
//
// Merging follows helm: maps merge key by key, anything else replaces, and a null deletes a key.
// Output: every non-empty document, each preceded by "---" and "# Source: <chart>/templates/<file>",
// in file-name order (helm orders by kind on install; the tests do not depend on the order).
//
// Not implemented (the chart does not use them): subcharts, .Files.Glob/AsConfig/AsSecrets,
// `lookup` against a cluster (it returns an empty map, as in `helm template`).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Files is .Files: read-only access to the chart's non-template files.
type Files struct{ root string }

// Get returns a file's content relative to the chart root, or "" when it is missing (as helm does).
func (f Files) Get(name string) string {
	b, err := ioutil.ReadFile(filepath.Join(f.root, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(b)
}

// GetBytes returns a file's content as bytes.
func (f Files) GetBytes(name string) []byte { return []byte(f.Get(name)) }

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	s := f.Get(name)
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether an apiVersion (or apiVersion/Kind) is available.
func (v VersionSet) Has(s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// defaultAPIVersions: what a plain v1.31 cluster serves (the subset charts usually test for).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"coordination.k8s.io/v1", "events.k8s.io/v1", "apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "scheduling.k8s.io/v1", "networking.k8s.io/v1",
	"storage.k8s.io/v1", "autoscaling/v2",
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "helm-template: "+format+"\n", a...)
	os.Exit(1)
}

func readYAMLMap(path string) map[string]interface{} {
	b, err := ioutil.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &out); err != nil {
		fail("%s: %v", path, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out
}

// merge deep-merges src over dst (helm's coalescing of user values over chart defaults).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func main() {
	var valueFiles, setJSON multiFlag
	name := flag.String("name", "kto", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.31.0", "Kubernetes version for .Capabilities")
	apiVersions := flag.String("api-versions", "", "extra API versions, comma separated")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt")
	flag.Var(&valueFiles, "values", "values file (repeatable)")
	flag.Var(&setJSON, "set-json", "JSON object of values (repeatable)")
	// Accept the chart directory before or after the flags.
	args := os.Args[1:]
	var chartDir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		chartDir, args = args[0], args[1:]
	}
	if err := flag.CommandLine.Parse(args); err != nil {
		os.Exit(2)
	}
	if chartDir == "" && flag.NArg() > 0 {
		chartDir = flag.Arg(0)
	}
	if chartDir == "" {
		fail("usage: helm-template CHART_DIR [--name N] [--namespace NS] [--values F] [--set-json JSON] [--kube-version V] [--notes]")
	}

	chartMeta := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		// helm exposes Chart.yaml fields capitalised: .Chart.Name, .Chart.AppVersion, ...
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	chartName, _ := chart["Name"].(string)
	if chartName == "" {
		fail("Chart.yaml has no name")
	}

	values := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = merge(values, readYAMLMap(f))
	}
	for _, s := range setJSON {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			fail("--set-json: %v", err)
		}
		values = merge(values, m)
	}

	kv := strings.TrimPrefix(*kubeVersion, "v")
	parts := strings.SplitN(kv, ".", 3)
	if len(parts) < 2 {
		fail("--kube-version: want vMAJOR.MINOR[.PATCH], got %q", *kubeVersion)
	}
	apis := append(VersionSet{}, defaultAPIVersions...)
	if *apiVersions != "" {
		apis = append(apis, strings.Split(*apiVersions, ",")...)
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: "v" + kv, GitVersion: "v" + kv, Major: parts[0], Minor: parts[1]},
		APIVersions: apis,
	}
	release := map[string]interface{}{
		"Name": *name, "Namespace": *namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}

	// Collect templates: helm names them "<chart>/templates/<path>".
	tplDir := filepath.Join(chartDir, "templates")
	var names []string
	sources := map[string]string{}
	err := filepath.Walk(tplDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tplDir, p)
		n := chartName + "/templates/" + filepath.ToSlash(rel)
		b, err := ioutil.ReadFile(p)
		if err != nil {
			return err
		}
		names = append(names, n)
		sources[n] = string(b)
		return nil
	})
	if err != nil {
		fail("%v", err)
	}
	sort.Strings(names)

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // helm removes these two
	delete(funcs, "expandenv")
	includedNames := map[string]int{}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	funcs["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		if includedNames[n] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", n)
		}
		includedNames[n]++
		defer func() { includedNames[n]-- }()
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, n, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(s string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c, err = c.New("tpl").Parse(s)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := c.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(funcs)

	// Partials (_*.tpl) first, as helm does, then the rest.
	ordered := []string{}
	for _, n := range names {
		if strings.HasPrefix(filepath.Base(n), "_") {
			ordered = append(ordered, n)
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(filepath.Base(n), "_") {
			ordered = append(ordered, n)
		}
	}
	for _, n := range ordered {
		if _, err := t.New(n).Parse(sources[n]); err != nil {
			fail("parse %s: %v", n, err)
		}
	}

	render := func(n string) string {
		data := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        chart,
			"Capabilities": caps,
			"Files":        Files{root: chartDir},
			"Template":     map[string]interface{}{"Name": n, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, n, data); err != nil {
			fail("render %s: %v", n, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", "")
	}

	if *notes {
		n := chartName + "/templates/NOTES.txt"
		if _, ok := sources[n]; !ok {
			fail("chart has no templates/NOTES.txt")
		}
		fmt.Print(render(n))
		return
	}

	sep := regexp.MustCompile(`(?m)^---[ \t]*$`)
	blank := regexp.MustCompile(`(?m)^\s*(#.*)?$`)
	var out strings.Builder
	for _, n := range ordered {
		base := filepath.Base(n)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		if ext := filepath.Ext(base); ext != ".yaml" && ext != ".yml" && ext != ".tpl" && ext != ".json" {
			continue
		}
		for _, doc := range sep.Split(render(n), -1) {
			empty := true
			for _, line := range strings.Split(doc, "\n") {
				if !blank.MatchString(line) {
					empty = false
					break
				}
			}
			if empty {
				continue
			}
			out.WriteString("---\n# Source: " + n + "\n" + strings.Trim(doc, "\n") + "\n")
		}
	}
	fmt.Print(out.String())
}
