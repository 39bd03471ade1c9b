package main

import (
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// withoutProfile turns ecu --without CHECK[,CHECK...] into the profile of a
// deliberately vulnerable Secondary e: the conformant profile minus those
// checks. Each name must be a check of check.All that a Secondary of e's
// kind performs (check.PerformedBy): switching off a check it never runs
// would change nothing and hide a mistake.
func withoutProfile(list string, e *rigs.ECU) (check.Profile, error) {
	if e.Role != rigs.Secondary {
		return check.Profile{}, fmt.Errorf("--without: %s is the Primary; only a Secondary can be run without checks", e.ID)
	}
	actor, ok := check.SecondaryActor(e.Profile)
	if !ok {
		return check.Profile{}, fmt.Errorf("--without: %s has profile %q, not full or partial", e.ID, e.Profile)
	}
	var ids []check.ID
	for i, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return check.Profile{}, fmt.Errorf("--without %q: item %d is empty (give CHECK[,CHECK...], e.g. verify_image.release_counter)", list, i+1)
		}
		id, err := check.ParseID(name)
		if err != nil {
			return check.Profile{}, fmt.Errorf("--without: %w", err)
		}
		for _, prev := range ids {
			if prev == id {
				return check.Profile{}, fmt.Errorf("--without: %s is listed twice", id)
			}
		}
		if p := id.Performers(); !p.Has(actor) {
			return check.Profile{}, fmt.Errorf("--without: %s is performed by %s, not by %s (a %s): switching it off would change nothing", id, p, e.ID, actor)
		}
		ids = append(ids, id)
	}
	return check.Without(ids...), nil
}
