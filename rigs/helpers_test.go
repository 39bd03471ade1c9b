package rigs_test

import (
	"os"
	"strings"
)

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// withPower gives ECM-0001 of the virtual rig the power: value v.
func withPower(v string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "hardware_id: ecm-v3", "hardware_id: ecm-v3\n    power: "+v, 1)
	}
}
