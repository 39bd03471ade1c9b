package reports

import (
	"regexp"
	"strings"
)

var (
	anchoredHeading = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*\{#([A-Za-z0-9_.:-]+)\}\s*$`)
	anyHeading      = regexp.MustCompile(`^(#{1,6})\s`)
	plainHeading    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*$`)
)

// unanchored gives the sections the Standard leaves without an anchor the
// anchor checks, scenarios and the coverage review name them by.
var unanchored = map[string]string{
	"Build-time prerequisite requirements for ECUs": "build_time",
}

// StandardSections extracts the sections of the Uptane Standard's markdown
// by their anchors: for every heading "### Title {#anchor}" the map holds,
// under "anchor", the heading (without the anchor) and everything up to the
// next heading of the same or a higher level, so a section includes its
// subsections. Headings inside fenced code blocks are ignored.
func StandardSections(markdown []byte) map[string]string {
	lines := strings.Split(strings.ReplaceAll(string(markdown), "\r\n", "\n"), "\n")
	type head struct {
		line, level int
		title, id   string
	}
	var heads []head
	levels := make([]int, len(lines)) // heading level per line, 0 if none
	code := make([]bool, len(lines))  // the line is in (or fences) a code block
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") || strings.HasPrefix(strings.TrimSpace(l), "~~~") {
			fence = !fence
			code[i] = true
			continue
		}
		if fence {
			code[i] = true
			continue
		}
		if m := anyHeading.FindStringSubmatch(l); m != nil {
			levels[i] = len(m[1])
		}
		if m := anchoredHeading.FindStringSubmatch(l); m != nil {
			heads = append(heads, head{i, len(m[1]), m[2], m[3]})
		} else if m := plainHeading.FindStringSubmatch(l); m != nil && unanchored[m[2]] != "" {
			heads = append(heads, head{i, len(m[1]), m[2], unanchored[m[2]]})
		}
	}
	out := make(map[string]string, len(heads))
	for _, h := range heads {
		end := len(lines)
		for j := h.line + 1; j < len(lines); j++ {
			if levels[j] > 0 && levels[j] <= h.level {
				end = j
				break
			}
		}
		body := make([]string, 0, end-h.line)
		body = append(body, strings.Repeat("#", h.level)+" "+h.title)
		for j, l := range lines[h.line+1 : end] {
			if m := anchoredHeading.FindStringSubmatch(l); m != nil && !code[h.line+1+j] {
				l = m[1] + " " + m[2]
			}
			body = append(body, l)
		}
		out[h.id] = strings.TrimRight(strings.Join(body, "\n"), "\n \t") + "\n"
	}
	return out
}

// The markdown the report quotes is rendered from a small block tree (no
// raw HTML ever passes through): headings, paragraphs, nested ordered and
// unordered lists, preformatted lines (tables, code).

type mdInline struct {
	Kind string // "" (text), "code", "b", "i", "ref"
	Text string
}

type mdBlock struct {
	Kind  string // "h", "p", "ol", "ul", "pre"
	Level int    // heading level
	Text  []mdInline
	Pre   string
	Items []mdItem
}

type mdItem struct {
	Text []mdInline
	Sub  []mdBlock
}

var listItem = regexp.MustCompile(`^(\s*)(\d+[.)]|[-*+])\s+(.*)$`)

// parseMarkdown turns a section's markdown into blocks.
func parseMarkdown(src string) []mdBlock {
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	var out []mdBlock
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, mdBlock{Kind: "p", Text: parseInline(strings.Join(para, " "))})
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			flush()
			var pre []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), t[:3]); i++ {
				pre = append(pre, lines[i])
			}
			out = append(out, mdBlock{Kind: "pre", Pre: strings.Join(pre, "\n")})
		case anyHeading.MatchString(l):
			flush()
			m := anyHeading.FindStringSubmatch(l)
			out = append(out, mdBlock{Kind: "h", Level: len(m[1]), Text: parseInline(strings.TrimSpace(l[len(m[1]):]))})
		case strings.HasPrefix(t, "|"):
			flush()
			var pre []string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				pre = append(pre, strings.TrimSpace(lines[i]))
			}
			i--
			out = append(out, mdBlock{Kind: "pre", Pre: strings.Join(pre, "\n")})
		case listItem.MatchString(l):
			flush()
			var items []string
			for ; i < len(lines); i++ {
				if strings.TrimSpace(lines[i]) == "" {
					// a blank line ends the list unless an item follows
					if i+1 < len(lines) && listItem.MatchString(lines[i+1]) {
						continue
					}
					break
				}
				if !listItem.MatchString(lines[i]) && len(items) > 0 && !anyHeading.MatchString(lines[i]) {
					items[len(items)-1] += " " + strings.TrimSpace(lines[i]) // continuation
					continue
				}
				if !listItem.MatchString(lines[i]) {
					break
				}
				items = append(items, lines[i])
			}
			i--
			out = append(out, parseList(items)...)
		default:
			para = append(para, t)
		}
	}
	flush()
	return out
}

func indentOf(s string) int {
	n := 0
	for _, r := range s {
		switch r {
		case ' ':
			n++
		case '\t':
			n += 4
		default:
			return n
		}
	}
	return n
}

// parseList builds nested lists from item lines; deeper indentation opens a
// sub-list of the previous item.
func parseList(lines []string) []mdBlock {
	if len(lines) == 0 {
		return nil
	}
	base := indentOf(lines[0])
	var out []mdBlock
	for i := 0; i < len(lines); {
		m := listItem.FindStringSubmatch(lines[i])
		kind := "ul"
		if m[2][0] >= '0' && m[2][0] <= '9' {
			kind = "ol"
		}
		if len(out) == 0 || out[len(out)-1].Kind != kind {
			out = append(out, mdBlock{Kind: kind})
		}
		blk := &out[len(out)-1]
		item := mdItem{Text: parseInline(m[3])}
		j := i + 1
		for j < len(lines) && indentOf(lines[j]) > base {
			j++
		}
		item.Sub = parseList(lines[i+1 : j])
		blk.Items = append(blk.Items, item)
		i = j
	}
	return out
}

var inlineRE = regexp.MustCompile("`[^`]+`|\\*\\*[^*]+\\*\\*|\\*[^*\\s][^*]*\\*|\\{\\{[^}]+\\}\\}|\\[[^\\]]+\\]\\([^)]*\\)")

// parseInline splits text into plain, code, bold, italic and reference
// runs. Links keep only their text: the report links nowhere outside.
func parseInline(s string) []mdInline {
	var out []mdInline
	last := 0
	for _, loc := range inlineRE.FindAllStringIndex(s, -1) {
		if loc[0] > last {
			out = append(out, mdInline{Text: s[last:loc[0]]})
		}
		tok := s[loc[0]:loc[1]]
		switch {
		case strings.HasPrefix(tok, "`"):
			out = append(out, mdInline{Kind: "code", Text: strings.Trim(tok, "`")})
		case strings.HasPrefix(tok, "**"):
			out = append(out, mdInline{Kind: "b", Text: strings.Trim(tok, "*")})
		case strings.HasPrefix(tok, "*"):
			out = append(out, mdInline{Kind: "i", Text: strings.Trim(tok, "*")})
		case strings.HasPrefix(tok, "{{"):
			out = append(out, mdInline{Kind: "ref", Text: strings.Trim(tok, "{}")})
		default: // [text](url)
			out = append(out, mdInline{Text: tok[1:strings.Index(tok, "](")]})
		}
		last = loc[1]
	}
	if last < len(s) {
		out = append(out, mdInline{Text: s[last:]})
	}
	return out
}
