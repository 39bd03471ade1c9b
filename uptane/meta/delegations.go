package meta

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Uptane delegations carry two fields go-tuf's DelegatedRole does not have
// ({#delegations_meta}, {#multirole_delegations}); they live in
// DelegatedRole.UnrecognizedFields, so they are signed with the delegating
// metadata:
//
//	{"name": "brakes", "keyids": [...], "threshold": 1, "terminating": false,
//	 "paths": ["brakes/*"],
//	 "hardwareIds": ["brake-ctrl-v2"]}
//
// "hardwareIds" (optional) scopes the delegation to images for those
// hardware identifiers; without it any hardware identifier matches.
//
// A multi-role delegation (TAP-3) is a DelegatedRole with a "multiRole"
// field naming the member roles, in priority order, and how many of them
// must agree:
//
//	{"name": "fw-2of3", "keyids": [], "threshold": 1, "terminating": true,
//	 "paths": ["fw/*"], "hardwareIds": ["gw-v1"],
//	 "multiRole": {"roles": ["supplier-a", "supplier-b", "oem"], "threshold": 2}}
//
// Its own keyids and threshold are unused. Each member role is defined by
// another DelegatedRole of the same delegations list with that name (its
// keyids and threshold); member definitions have no "paths", so that they
// act only through the multi-role delegation.
const (
	FieldHardwareIDs = "hardwareIds"
	FieldMultiRole   = "multiRole"
)

// MultiRole is the "multiRole" field of a multi-role delegation.
type MultiRole struct {
	Roles     []string `json:"roles"`
	Threshold int      `json:"threshold"`
}

// SetHardwareIDs scopes a delegation to the given hardware identifiers.
func SetHardwareIDs(d *metadata.DelegatedRole, ids ...string) {
	if d.UnrecognizedFields == nil {
		d.UnrecognizedFields = map[string]any{}
	}
	d.UnrecognizedFields[FieldHardwareIDs] = append([]string(nil), ids...)
}

// SetMultiRole makes d a multi-role delegation.
func SetMultiRole(d *metadata.DelegatedRole, mr MultiRole) {
	if d.UnrecognizedFields == nil {
		d.UnrecognizedFields = map[string]any{}
	}
	d.UnrecognizedFields[FieldMultiRole] = mr
}

// HardwareIDs returns the hardware identifiers a delegation is scoped to;
// scoped is false when the delegation has no "hardwareIds" field.
func HardwareIDs(d *metadata.DelegatedRole) (ids []string, scoped bool, err error) {
	v, ok := d.UnrecognizedFields[FieldHardwareIDs]
	if !ok {
		return nil, false, nil
	}
	if err := recode(v, &ids); err != nil {
		return nil, true, fmt.Errorf("delegation %q: %s: %w", d.Name, FieldHardwareIDs, err)
	}
	return ids, true, nil
}

// MultiRoleOf returns the multi-role part of a delegation, or nil for an
// ordinary delegation.
func MultiRoleOf(d *metadata.DelegatedRole) (*MultiRole, error) {
	v, ok := d.UnrecognizedFields[FieldMultiRole]
	if !ok {
		return nil, nil
	}
	var mr MultiRole
	if err := recode(v, &mr); err != nil {
		return nil, fmt.Errorf("delegation %q: %s: %w", d.Name, FieldMultiRole, err)
	}
	return &mr, nil
}

// recode converts a decoded JSON value (or a Go value) into a typed one,
// strictly: unknown fields are an error.
func recode(v, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
