package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
)

// Redacted replaces private key material in a report.
const Redacted = "[redacted private key]"

// ErrSecret is returned by a writer whose output would still contain a PEM
// private key marker after redaction.
var ErrSecret = errors.New("report: refusing to write private key material")

var (
	// A PEM private key block (any kind: RSA, EC, ENCRYPTED, OPENSSH...),
	// up to its END line or, if cut off, to the end of the text.
	pemBlock = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`)
	// A JSON-like "private...": "value" member quoted in free text, such as
	// a TUF key's keyval.private.
	privateMember = regexp.MustCompile(`(?i)("[a-z_]*private[a-z_]*"\s*:\s*)"[^"]*"`)
	// What the final guard refuses: a PEM private key marker.
	pemMarker = regexp.MustCompile(`BEGIN[A-Z0-9 ]*PRIVATE KEY`)
)

// RedactText returns s with PEM private key blocks and quoted "private"
// JSON members replaced by Redacted.
func RedactText(s string) string {
	if !strings.Contains(s, "PRIVATE KEY") && !strings.Contains(strings.ToLower(s), "private") {
		return s
	}
	s = pemBlock.ReplaceAllString(s, Redacted)
	return privateMember.ReplaceAllString(s, `${1}"`+Redacted+`"`)
}

// Redact returns a deep copy of r in which every string (free text, labels,
// paths) has passed through RedactText and every raw JSON document
// (version reports, Director records) has lost the values of members whose
// name contains "private" (e.g. a TUF key's keyval.private) and any PEM
// private key. r itself is not changed.
//
// Long hexadecimal or base64 strings are not redacted: an Ed25519 seed and a
// SHA-256 hash look the same, and hashes are the evidence of many
// scenarios. Keys are never put into a report on purpose; this is the net
// under that rule, and the writers refuse (ErrSecret) whatever still carries
// a PEM private key marker.
func Redact(r *Report) (*Report, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "<" in raw documents as it was
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	var c Report
	if err := json.Unmarshal(b.Bytes(), &c); err != nil {
		return nil, err
	}
	c.Started, c.Finished = r.Started, r.Finished
	redactValue(reflect.ValueOf(&c).Elem())
	return &c, nil
}

var rawType = reflect.TypeFor[json.RawMessage]()

func redactValue(v reflect.Value) {
	switch {
	case v.Type() == rawType:
		if v.Len() > 0 {
			v.SetBytes(redactJSON(v.Bytes()))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(RedactText(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				redactValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			redactValue(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			redactValue(v.Elem())
		}
	}
}

// redactJSON returns raw with private members and PEM blocks redacted; it
// returns raw itself when there is nothing to redact (a signed document
// keeps its exact bytes).
func redactJSON(raw []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		s := string(raw)
		if r := RedactText(s); r != s {
			b, _ := json.Marshal(r)
			return b
		}
		return raw
	}
	v, changed := redactAny(v)
	if !changed {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(Redacted)
	}
	return b
}

func redactAny(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		r := RedactText(x)
		return r, r != x
	case []any:
		changed := false
		for i := range x {
			var c bool
			x[i], c = redactAny(x[i])
			changed = changed || c
		}
		return x, changed
	case map[string]any:
		changed := false
		for k, e := range x {
			if strings.Contains(strings.ToLower(k), "private") {
				if s, ok := e.(string); ok && (s == "" || s == Redacted) {
					continue
				}
				x[k] = Redacted
				changed = true
				continue
			}
			var c bool
			x[k], c = redactAny(e)
			changed = changed || c
		}
		return x, changed
	}
	return v, false
}

// guard refuses output that still carries a PEM private key marker.
func guard(b []byte) error {
	if pemMarker.Match(b) {
		return ErrSecret
	}
	return nil
}
