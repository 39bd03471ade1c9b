package std

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// LabelPrefix starts the ginkgo label that names a statement a spec proves:
// Label("std:check_root#3"). `ginkgo --label-filter 'std:check_root#3'` runs
// the specs of one statement.
const LabelPrefix = "std:"

// Label is the ginkgo label for a statement.
func Label(id ID) string { return LabelPrefix + string(id) }

// SpecRef is where a spec is labelled with a statement: the file (relative
// to the module root, with '/') and the line of the label.
type SpecRef struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (r SpecRef) String() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// labelCallRe finds a ginkgo Label(...) decorator with its arguments on one
// line; labelRe a statement label among them, as a Go string literal. Only
// labels inside Label( ) count: a string that merely looks like one (in a
// message, a comment) is not a spec's label.
var (
	labelCallRe = regexp.MustCompile(`\bLabel\(([^()]*)\)`)
	labelRe     = regexp.MustCompile(`"` + LabelPrefix + `([A-Za-z0-9_]+#[0-9]+)"`)
)

// ScanSpecs finds every statement label in the _test.go files under root (a
// module root; hidden folders, testdata and out are left out): statement ID
// -> where, in file and line order.
func ScanSpecs(root string) (map[ID][]SpecRef, error) {
	out := map[ID][]SpecRef{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "out" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			for _, call := range labelCallRe.FindAllStringSubmatch(sc.Text(), -1) {
				for _, m := range labelRe.FindAllStringSubmatch(call[1], -1) {
					id := ID(m[1])
					out[id] = append(out[id], SpecRef{File: filepath.ToSlash(rel), Line: n})
				}
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id := range out {
		sort.Slice(out[id], func(i, j int) bool {
			a, b := out[id][i], out[id][j]
			if a.File != b.File {
				return a.File < b.File
			}
			return a.Line < b.Line
		})
	}
	return out, nil
}

// GenerateSpecs scans root and returns specs.json's content.
func GenerateSpecs(root string) ([]byte, error) {
	m, err := ScanSpecs(root)
	if err != nil {
		return nil, err
	}
	return marshal(m)
}

// ModuleSpecs scans the specs of the module checked out at root, if root
// holds this module's go.mod: the trace then shows the labels as they are in
// the sources, not as go generate last recorded them.
func ModuleSpecs(root string) (map[ID][]SpecRef, bool) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module github.com/uptane-hil/uptane-hil\n") {
		return nil, false
	}
	m, err := ScanSpecs(root)
	if err != nil {
		return nil, false
	}
	return m, true
}

// SpecFiles reduces a spec index to statement -> the files that hold its
// labels, sorted: what the index must keep in step with the sources (line
// numbers move with every edit above a label).
func SpecFiles(m map[ID][]SpecRef) map[ID][]string {
	out := map[ID][]string{}
	for id, refs := range m {
		seen := map[string]bool{}
		for _, r := range refs {
			if !seen[r.File] {
				seen[r.File] = true
				out[id] = append(out[id], r.File)
			}
		}
		sort.Strings(out[id])
	}
	return out
}

//go:embed specs.json
var specsJSON []byte

var loadedSpecs = sync.OnceValue(func() map[ID][]SpecRef {
	m := map[ID][]SpecRef{}
	if err := json.Unmarshal(specsJSON, &m); err != nil {
		panic("std: specs.json: " + err.Error())
	}
	return m
})

// Specs returns the spec index go generate recorded (specs.json): statement
// ID -> the labelled specs. A spec of package std fails when a label was
// added, removed or moved to another file since (lines may drift until the
// next go generate; ModuleSpecs reads them from a checkout).
func Specs() map[ID][]SpecRef { return loadedSpecs() }
