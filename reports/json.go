package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteJSON writes the report as indented JSON (schema Schema, SchemaDUT
// for a report with a device under test, SchemaResisted for one with a
// result the device resisted), redacted.
func WriteJSON(w io.Writer, r *Report) error {
	c, err := Redact(r)
	if err != nil {
		return err
	}
	if c.Results == nil {
		c.Results = []Result{}
	}
	c.Summarize() // the summary, the DUT section's rows and the schema follow the results
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return err
	}
	return emit(w, buf.Bytes())
}

// ReadJSON reads a report written by WriteJSON. It refuses another schema
// version (ErrSchema) and returns Validate's problems.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if r.Schema != Schema && r.Schema != SchemaDUT && r.Schema != SchemaResisted {
		return nil, fmt.Errorf("%w %q (this tool reads %q, %q and %q)", ErrSchema, r.Schema, Schema, SchemaDUT, SchemaResisted)
	}
	if err := r.Validate(); err != nil {
		return &r, err
	}
	return &r, nil
}

// emit writes b to w after the secret guard.
func emit(w io.Writer, b []byte) error {
	if err := guard(b); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// WriteAll writes report.json, junit.xml and report.html (rendered with
// opts) into dir, created if needed. Capture paths in the report are
// relative to dir. Nothing is written unless every file renders.
func WriteAll(dir string, r *Report, opts ...Option) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	html := func(w io.Writer, r *Report) error { return WriteHTML(w, r, opts...) }
	files := []struct {
		name  string
		write func(io.Writer, *Report) error
		buf   bytes.Buffer
	}{{name: "report.json", write: WriteJSON}, {name: "junit.xml", write: WriteJUnit}, {name: "report.html", write: html}}
	for i := range files {
		if err := files[i].write(&files[i].buf, r); err != nil {
			return fmt.Errorf("%s: %w", files[i].name, err)
		}
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, files[i].name), files[i].buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
