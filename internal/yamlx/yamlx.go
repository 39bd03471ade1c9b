// Package yamlx decodes YAML data files (rigs, scenarios) strictly, so that a
// broken file gets an error naming the file, line, column and field:
//
//	rigs/virtual.yaml:23:14: ecus[1].profile: "fulll" is not one of full, partial
//
// Unknown fields are errors. Integers accept hex (0x7E0); durations accept Go
// syntax ("500ms", "720h"). After decoding, Doc.Errorf places semantic errors
// at the field's position.
package yamlx

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds the data files this package reads.
const MaxFileSize = 4 << 20

// Pos is a position in a file.
type Pos struct{ Line, Col int }

// Error is a located error in a data file.
type Error struct {
	File  string
	Pos   Pos
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Doc remembers where each field of a decoded file stands.
type Doc struct {
	File string
	pos  map[string]Pos
}

// Pos returns the position of a field path like "ecus[1].profile" (the
// nearest enclosing field that was present when the path itself was not).
func (d *Doc) Pos(path string) Pos {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return d.pos[""]
		}
		path = path[:i]
	}
}

// Has reports whether the field path was present in the file.
func (d *Doc) Has(path string) bool { _, ok := d.pos[path]; return ok }

// Errorf returns a located error for the field path.
func (d *Doc) Errorf(path, format string, args ...any) error {
	return &Error{File: d.File, Pos: d.Pos(path), Field: path, Msg: fmt.Sprintf(format, args...)}
}

// ReadFile reads and decodes a file.
func ReadFile(path string, out any) (*Doc, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", st.Size(), MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Decode(path, data, out)
}

// Decode decodes data (named file in errors) into out, a pointer to a struct.
func Decode(file string, data []byte, out any) (*Doc, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", len(data), MaxFileSize)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		e := &Error{File: file, Msg: "not valid YAML: " + msg}
		var line int
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			e.Pos.Line = line
			e.Msg = "not valid YAML:" + strings.SplitN(msg, ":", 2)[1]
		}
		return nil, e
	}
	d := &Doc{File: file, pos: map[string]Pos{}}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "the file is empty"}
	}
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("yamlx: Decode needs a non-nil pointer")
	}
	dec := decoder{d: d, depth: 0}
	if err := dec.decode(root.Content[0], v.Elem(), ""); err != nil {
		return nil, err
	}
	return d, nil
}

type decoder struct {
	d     *Doc
	depth int
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	textType     = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	nodeType     = reflect.TypeOf(yaml.Node{})
)

func (dec *decoder) errAt(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: dec.d.File, Pos: Pos{n.Line, n.Column}, Field: path, Msg: fmt.Sprintf(format, args...)}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func (dec *decoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	dec.depth++
	defer func() { dec.depth-- }()
	if dec.depth > 64 {
		return dec.errAt(n, path, "nesting is deeper than 64 levels")
	}
	if n.Kind == yaml.AliasNode {
		return dec.errAt(n, path, "YAML aliases are not supported in uptane-hil data files")
	}
	dec.d.pos[path] = Pos{n.Line, n.Column}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return nil
	}
	if v.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return dec.decode(n, v.Elem(), path)
	}
	if v.CanAddr() && v.Addr().Type().Implements(textType) && n.Kind == yaml.ScalarNode {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			return dec.errAt(n, path, "%v", err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return dec.errAt(n, path, "want a mapping, found %s", kindName(n))
		}
		fields := structFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				return dec.errAt(k, sub, "unknown field (known: %s)", knownList(v.Type()))
			}
			if seen[k.Value] {
				return dec.errAt(k, sub, "field given twice")
			}
			seen[k.Value] = true
			if err := dec.decode(val, v.FieldByIndex(idx), sub); err != nil {
				return err
			}
			dec.d.pos[sub] = Pos{val.Line, val.Column}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return dec.errAt(n, path, "want a list, found %s", kindName(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := dec.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return dec.errAt(n, path, "want a mapping, found %s", kindName(n))
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("yamlx: only string-keyed maps")
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := join(path, k.Value)
			if m.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key())).IsValid() {
				return dec.errAt(k, sub, "key given twice")
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := dec.decode(val, ev, sub); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return dec.errAt(n, path, "want a single value, found %s", kindName(n))
	}
	s := n.Value
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return dec.errAt(n, path, "%q is not a duration (examples: 500ms, 30s, 720h)", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil || n.Tag != "!!bool" {
			return dec.errAt(n, path, "%q is not true or false", s)
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return dec.errAt(n, path, "%q is not an integer that fits in %d bits", s, v.Type().Bits())
		}
		v.SetInt(i)
	case v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			return dec.errAt(n, path, "%q is not a non-negative integer that fits in %d bits", s, v.Type().Bits())
		}
		v.SetUint(u)
	case v.Kind() == reflect.Float64 || v.Kind() == reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return dec.errAt(n, path, "%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		panic("yamlx: unsupported field type " + v.Type().String())
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldName is the YAML name of a struct field ("" when it is not decoded).
func fieldName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return name
}

func structFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		if name := fieldName(t.Field(i)); name != "" {
			m[name] = t.Field(i).Index
		}
	}
	return m
}

func knownList(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := fieldName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}
