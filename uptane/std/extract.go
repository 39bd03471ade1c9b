package std

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/uptane-hil/uptane-hil/internal/yamlx"
)

// Rules align the mechanical extraction with the way the Standard is read
// statement by statement (the review ../shared/ref/shall-coverage.md, whose
// IDs the project keeps). They live in rules.yaml.
type Rules struct {
	// Start is the anchor of the first normative section; everything before
	// it (terminology, threat model) is not extracted.
	Start string `yaml:"start"`
	// Headings names sections whose heading has no {#anchor} in the Standard.
	Headings map[string]string `yaml:"headings"`
	// Procedures are the sections whose numbered steps are statements even
	// without a keyword, with the kind such a step gets ("SHALL*" where the
	// section introduces them with "SHOULD" but verification makes them
	// mandatory; "SHALL" where the section says "SHALL perform").
	Procedures map[string]Kind `yaml:"procedures"`
	// Lines adjust single lines of the Standard, by line number ("829"), or
	// one part of a split line ("826/2", parts counted from 1).
	Lines map[string]LineRule `yaml:"lines"`
	// Groups gather sections for the counts, in order.
	Groups []Group `yaml:"groups"`
}

// LineRule adjusts one line (or part).
type LineRule struct {
	// Action: "skip" (no statement here: an introduction whose items are the
	// statements, or a definition), "fold" (part of the previous statement).
	Action string `yaml:"action"`
	// Split cuts the line before each of these phrases; each part is then
	// extracted on its own (and can have its own rule, "LINE/PART").
	Split []string `yaml:"split"`
	// Kinds replaces what the line yields: one statement per kind, each with
	// the line's text (where the Standard puts two requirements under one
	// keyword, or one requirement under two).
	Kinds []Kind `yaml:"kinds"`
	Why   string `yaml:"why"`
}

// Group is a set of sections counted together.
type Group struct {
	Name     string   `yaml:"name"`
	Sections []string `yaml:"sections"`
}

// ParseRules reads rules.yaml.
func ParseRules(file string, data []byte) (*Rules, error) {
	var r Rules
	if _, err := yamlx.Decode(file, data, &r); err != nil {
		return nil, err
	}
	for k, lr := range r.Lines {
		n := 0
		if lr.Action != "" {
			n++
			if lr.Action != "skip" && lr.Action != "fold" {
				return nil, fmt.Errorf("%s: lines.%s.action: %q is neither skip nor fold", file, k, lr.Action)
			}
		}
		if len(lr.Split) > 0 {
			n++
		}
		if len(lr.Kinds) > 0 {
			n++
		}
		if n > 1 {
			return nil, fmt.Errorf("%s: lines.%s: give one of action, split, kinds", file, k)
		}
		for _, kd := range lr.Kinds {
			if !validKind(kd) {
				return nil, fmt.Errorf("%s: lines.%s.kinds: unknown kind %q", file, k, kd)
			}
		}
	}
	for s, kd := range r.Procedures {
		if !validKind(kd) {
			return nil, fmt.Errorf("%s: procedures.%s: unknown kind %q", file, s, kd)
		}
	}
	return &r, nil
}

func validKind(k Kind) bool {
	switch k {
	case Shall, ShallNot, Required, ShallStep, Should, ShouldNot:
		return true
	}
	return false
}

var (
	headingRe  = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*(?:\{#([A-Za-z0-9_.:-]+)\})?\s*$`)
	itemRe     = regexp.MustCompile(`^(\s*)(\d+\.|[*-])\s+`)
	keywordRe  = regexp.MustCompile(`\b(?:CONDITIONALLY REQUIRED|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD)\b`)
	sentenceRe = regexp.MustCompile(`[.!?](?:\)|")?\s+`)
)

// keywords finds the normative keywords of a text, leaving out "SHALL match"
// where it names a kind of custom metadata ("SHALL match custom metadata",
// a quoted "SHALL match") rather than requiring anything.
func keywords(text string) [][]int {
	var out [][]int
	for _, m := range keywordRe.FindAllStringIndex(text, -1) {
		if m[0] > 0 && text[m[0]-1] == '"' {
			continue
		}
		if strings.HasPrefix(text[m[0]:], "SHALL match custom") {
			continue
		}
		out = append(out, m)
	}
	return out
}

func kindOf(kw string) Kind {
	switch kw {
	case "SHALL":
		return Shall
	case "SHALL NOT":
		return ShallNot
	case "REQUIRED", "CONDITIONALLY REQUIRED":
		return Required
	case "SHOULD":
		return Should
	case "SHOULD NOT":
		return ShouldNot
	}
	panic("std: keyword " + kw)
}

// sentence is the sentence of text around offset at.
func sentence(text string, at int) string {
	start, end := 0, len(text)
	for _, m := range sentenceRe.FindAllStringIndex(text, -1) {
		if m[1] <= at {
			start = m[1]
		} else if m[0] >= at {
			end = m[0] + 1
			if end < len(text) && (text[end] == ')' || text[end] == '"') {
				end++
			}
			break
		}
	}
	return strings.TrimSpace(text[start:end])
}

// Extract finds the normative statements of the Standard's markdown: every
// keyword, and every numbered step of a procedure section, adjusted by the
// rules, numbered per section in the order of the Standard.
func Extract(markdown []byte, r *Rules) ([]Statement, error) {
	lines := strings.Split(strings.ReplaceAll(string(markdown), "\r\n", "\n"), "\n")
	used := map[string]bool{}
	rule := func(key string) (LineRule, bool) {
		lr, ok := r.Lines[key]
		if ok {
			used[key] = true
		}
		return lr, ok
	}
	type cand struct {
		Statement
		ordinal int
	}
	var out []*cand // in the order of the Standard
	section, started, fence := "", false, false
	for i, raw := range lines {
		n := i + 1
		t := strings.TrimSpace(raw)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = !fence
			continue
		}
		if fence {
			continue
		}
		if strings.HasPrefix(t, "<!--") {
			break // the licence comment at the end
		}
		if m := headingRe.FindStringSubmatch(raw); m != nil && strings.HasPrefix(raw, "#") {
			switch {
			case m[3] != "":
				section = m[3]
			case r.Headings[m[2]] != "":
				section = r.Headings[m[2]]
			}
			if section == r.Start {
				started = true
			}
			continue
		}
		if !started || t == "" {
			continue
		}
		numbered := false
		text := t
		if m := itemRe.FindStringSubmatch(raw); m != nil {
			numbered = strings.HasSuffix(m[2], ".")
			text = strings.TrimSpace(raw[len(m[0]):])
		}
		parts := []string{text}
		if lr, ok := rule(strconv.Itoa(n)); ok && len(lr.Split) > 0 {
			parts = splitBefore(text, lr.Split)
			if len(parts) != len(lr.Split)+1 {
				return nil, fmt.Errorf("std: line %d: split: not every phrase of %q found", n, lr.Split)
			}
		}
		for p, part := range parts {
			key := strconv.Itoa(n)
			if len(parts) > 1 {
				key = fmt.Sprintf("%d/%d", n, p+1)
			}
			lr, _ := rule(key)
			if lr.Action == "skip" {
				continue
			}
			var got []*cand
			switch {
			case len(lr.Kinds) > 0:
				for _, k := range lr.Kinds {
					got = append(got, &cand{Statement: Statement{Kind: k, Text: part}})
				}
			default:
				for _, m := range keywords(part) {
					got = append(got, &cand{Statement: Statement{Kind: kindOf(part[m[0]:m[1]]), Text: sentence(part, m[0])}})
				}
				if len(got) == 0 && numbered {
					if k, ok := r.Procedures[section]; ok {
						got = append(got, &cand{Statement: Statement{Kind: k, Text: part}})
					}
				}
			}
			if len(got) == 0 {
				continue
			}
			if lr.Action == "fold" {
				if len(out) == 0 || out[len(out)-1].Section != section {
					return nil, fmt.Errorf("std: line %s: fold: no statement before it in section %s", key, section)
				}
				prev := out[len(out)-1]
				prev.EndLine = n
				prev.Text += " " + part
				continue
			}
			for _, c := range got {
				c.Section, c.Line, c.EndLine = section, n, n
				out = append(out, c)
			}
		}
	}
	var unused []string
	for k := range r.Lines {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return nil, fmt.Errorf("std: rules for lines that yield nothing to adjust: %s", strings.Join(unused, ", "))
	}
	// Number per section in the order of the Standard.
	next := map[string]int{}
	for _, c := range out {
		next[c.Section]++
		c.ordinal = next[c.Section]
	}
	res := make([]Statement, 0, len(out))
	seen := map[ID]bool{}
	for _, c := range out {
		c.ID = ID(fmt.Sprintf("%s#%d", c.Section, c.ordinal))
		if seen[c.ID] {
			return nil, fmt.Errorf("std: two statements are %s (line %d)", c.ID, c.Line)
		}
		seen[c.ID] = true
		res = append(res, c.Statement)
	}
	return res, nil
}

func splitBefore(text string, phrases []string) []string {
	var parts []string
	rest := text
	for _, ph := range phrases {
		i := strings.Index(rest, ph)
		if i <= 0 {
			return nil
		}
		parts = append(parts, strings.TrimSpace(rest[:i]))
		rest = rest[i:]
	}
	return append(parts, strings.TrimSpace(rest))
}
