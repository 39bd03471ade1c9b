package repo

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// planned is what one ECU of a vehicle runs once the assignments are
// installed: the image's name and custom metadata, or nothing known.
type planned struct {
	target string
	custom *meta.Custom
}

// configuration is the vehicle's resulting configuration, per ECU: its
// assignment, else the image the vehicle last reported installed (looked up
// in the Image repository), else unknown (absent).
func (d *Director) configuration(tx *bolt.Tx, v *Vehicle, as []Assignment) (map[string]planned, error) {
	out := map[string]planned{}
	inst := map[string]InstalledImage{}
	if _, err := getJSON(tx.Bucket(bInstalled), []byte(v.VIN), &inst); err != nil {
		return nil, err
	}
	for _, e := range v.ECUs {
		if ii, ok := inst[e.ID]; ok && ii.Filename != "" {
			if info, err := d.opts.Images.Target(ii.Filename); err == nil {
				if c, err := meta.GetCustom(info); err == nil {
					out[e.ID] = planned{target: ii.Filename, custom: c}
				}
			}
		}
	}
	for _, a := range as {
		c, err := meta.GetCustom(a.Info)
		if err != nil {
			return nil, fmt.Errorf("repo: director: assignment of %s: %w", a.ECU, err)
		}
		out[a.ECU] = planned{target: a.Target, custom: c}
	}
	return out, nil
}

// checkDependencies is {#director_repository} step 5: the Director "SHALL
// take into account dependencies and conflicts between images". Every image
// of the resulting configuration must find its requirements met (each ECU
// of a required hardware runs an image of at least the required release)
// and no conflicting image on any ECU. Only problems that involve an ECU of
// the bundle (as the one that requires, or the one required) are counted,
// so a vehicle with an older unmet dependency can still be fixed.
func (d *Director) checkDependencies(tx *bolt.Tx, v *Vehicle, as []Assignment, bundle map[string]bool) error {
	cfg, err := d.configuration(tx, v, as)
	if err != nil {
		return err
	}
	var problems []string
	for _, e := range v.ECUs {
		p, ok := cfg[e.ID]
		if !ok || p.custom.Compatibility == nil {
			continue
		}
		comp := p.custom.Compatibility
		for _, r := range comp.Requires {
			for _, o := range v.ECUs {
				if o.HardwareID != r.HardwareID || (!bundle[e.ID] && !bundle[o.ID]) {
					continue
				}
				q, known := cfg[o.ID]
				switch {
				case !known:
					problems = append(problems, fmt.Sprintf("%s (%s on %s) requires release %d or later on %s, whose image is unknown", p.target, e.HardwareID, e.ID, r.MinRelease, o.ID))
				case q.custom.Uptane.ReleaseCounter < r.MinRelease:
					problems = append(problems, fmt.Sprintf("%s (on %s) requires release %d or later on %s, which would run %s (release %d)", p.target, e.ID, r.MinRelease, o.ID, q.target, q.custom.Uptane.ReleaseCounter))
				}
			}
		}
		for _, name := range comp.Conflicts {
			for _, o := range v.ECUs {
				if q, known := cfg[o.ID]; known && q.target == name && (bundle[e.ID] || bundle[o.ID]) {
					problems = append(problems, fmt.Sprintf("%s (on %s) conflicts with %s on %s", p.target, e.ID, name, o.ID))
				}
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	ecus := make([]string, 0, len(bundle))
	for id := range bundle {
		ecus = append(ecus, id)
	}
	sort.Strings(ecus)
	return check.Fail(check.DirectorRepositoryDependencies, meta.Director, meta.Targets,
		"vehicle %s: the assignment of %s is refused: %s", v.VIN, strings.Join(ecus, ", "), strings.Join(problems, "; "))
}
