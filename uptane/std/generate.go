package std

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

//go:embed rules.yaml
var rulesYAML []byte

// LoadRules parses the embedded rules.yaml.
func LoadRules() (*Rules, error) { return ParseRules("uptane/std/rules.yaml", rulesYAML) }

// Generate extracts the statements from the embedded Standard under the
// embedded rules and returns statements.json's content.
func Generate() ([]byte, error) {
	r, err := LoadRules()
	if err != nil {
		return nil, err
	}
	st, err := Extract(Text, r)
	if err != nil {
		return nil, err
	}
	return marshal(st)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
