// Package layers is the one allowed direction of imports between the
// packages of this module (docs/architecture.md, "Layers"), and the check
// that keeps it: a spec runs `go list` over the module and fails on a
// package that imports one above it, or a package that is in no layer.
package layers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Module is the module path.
const Module = "github.com/uptane-hil/uptane-hil"

// Tier is a group of packages; a package may import packages of its own
// tier or of a tier below, never above. Patterns are paths inside the
// module; "x/..." is x and everything under it. A package belongs to the
// first tier (from the top) with a pattern that matches it, so a specific
// path below wins over a "..." pattern above.
type Tier struct {
	Layer    string // the layer of docs/architecture.md
	Patterns []string
}

// Tiers lists the packages from the bottom up.
var Tiers = []Tier{
	{"foundations", []string{"internal/atomicfile", "internal/yamlx", "internal/layers", "internal/vcantest", "internal/aktualizr"}},
	{"sim", []string{"sim/can", "sim/clock", "sim/seed", "sim/events"}},
	{"sim", []string{"sim/..."}},       // isotp, vbus, socketcan, capture: on a can.Bus and a clock
	{"uptane", []string{"uptane/std"}}, // the Standard's statements as data; check says which it implements
	{"uptane", []string{"uptane/check", "uptane/keys"}},
	{"uptane", []string{"uptane/meta"}},
	{"uptane", []string{"uptane/..."}}, // verify, manifest, imagecrypt, repo, tufclient
	{"rigs", []string{"rigs"}},
	{"ecus", []string{"ecus/uds", "ecus/aktualizrip"}}, // aktualizrip: aktualizr's IP Secondary protocol, no Uptane
	{"ecus", []string{"ecus/pouf", "ecus/store"}},
	{"ecus", []string{"ecus/link"}}, // the Primary's view of a Secondary: the protocol, no implementation
	{"ecus", []string{"ecus/secondary"}},
	{"ecus", []string{"ecus/primary"}},
	{"ecus", []string{"ecus/..."}}, // vehicle: bring-up of the whole vehicle
	{"attacks", []string{"attacks/..."}},
	{"runs", []string{"reports/...", "internal/progress"}},
	{"runs", []string{"scenarios/..."}},
	{"cmd", []string{"cmd/..."}},
}

// Forbidden are imports the tiers would allow but the design does not:
// package (pattern) → what it must not import (patterns), and why.
var Forbidden = []struct {
	From, To, Why string
}{
	{"ecus/uds", "uptane/...", "ISO 14229 is generic: it reports a neutral limit hit, the Secondary maps it to its check"},
}

func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// TierOf returns the tier of a package path inside the module, or -1.
func TierOf(pkg string) int {
	// exact paths first, anywhere; then the "..." patterns from the top
	for i, t := range Tiers {
		for _, p := range t.Patterns {
			if !strings.HasSuffix(p, "/...") && p == pkg {
				return i
			}
		}
	}
	for i := len(Tiers) - 1; i >= 0; i-- {
		for _, p := range Tiers[i].Patterns {
			if strings.HasSuffix(p, "/...") && match(p, pkg) {
				return i
			}
		}
	}
	return -1
}

// Violations returns every import of graph (package → the packages it
// imports, full import paths; others than the module's are ignored) that
// goes against the tiers or is forbidden, and every package in no tier, in
// a stable order.
func Violations(graph map[string][]string) []string {
	var out []string
	for _, from := range slices.Sorted(maps.Keys(graph)) {
		f, ok := inModule(from)
		if !ok {
			continue
		}
		ft := TierOf(f)
		if ft < 0 {
			out = append(out, fmt.Sprintf("%s is in no layer: add it to internal/layers.Tiers and docs/architecture.md", f))
			continue
		}
		for _, to := range graph[from] {
			t, ok := inModule(to)
			if !ok {
				continue
			}
			tt := TierOf(t)
			if tt > ft {
				out = append(out, fmt.Sprintf("%s (%s) imports %s (%s, a layer above): imports run one way, see docs/architecture.md", f, Tiers[ft].Layer, t, Tiers[tt].Layer))
			}
			for _, fb := range Forbidden {
				if match(fb.From, f) && match(fb.To, t) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", f, t, fb.Why))
				}
			}
		}
	}
	return out
}

func inModule(pkg string) (string, bool) {
	if pkg == Module {
		return "", false
	}
	return strings.CutPrefix(pkg, Module+"/")
}
