package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

func init() {
	register("provision", "write the provisioning kit a supplier flashes into a Secondary so that it trusts this harness", runProvision)
}

func runProvision(args []string) int {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	rigFile := fs.String("rig", "rigs/bench-example.yaml", "rig file")
	id := fs.String("ecu", "", "the Secondary's ECU identifier in the rig (required)")
	out := fs.String("out", "", "directory the kit is written to (required)")
	state := fs.String("state", filepath.Join("out", "vehicle"), "the backend's state directory: the one `uptane-hil vehicle --out OUT` keeps in OUT/vehicle")
	sd := fs.Uint64("seed", 0, "seed the keys derive from (0: the rig's seed)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil provision --rig FILE --ecu ID --out DIR [--state DIR] [--seed N]

Writes what a supplier needs to flash a Secondary (a device under test) so
that it trusts this harness and the harness recognises it:

  DIR/%s   the Director's current Root metadata
  DIR/%s      the Image repository's current Root metadata
  DIR/%s       the time server's public key (verify_time.attestation)
  DIR/%s/, DIR/%s/
                       the latest metadata the ECU leaves the factory with
                       (build_time.metadata; a partial-verification ECU:
                       the Director's Targets only)
  DIR/%s        the ECU's identity DIDs (0xF18C ECU serial number = ECU
                       identifier, 0xF191 hardware number = hardware
                       identifier, 0xF190 VIN, 0xF1A5 profile) and the key ID
                       and public key the Director's inventory holds
  DIR/%s         its signing key and, for an ECU with encrypted images,
  DIR/%s     its X25519 image key: mode 0600, only when the rig gives
                       the ECU no public_key (an ECU that brings its own key
                       gets no secret)

The keys derive from the rig's seed exactly as the Director's inventory and
uptane-hil ecu derive them, so a DUT provisioned once keeps working across
runs. The Roots are those of the backend kept in --state (opened, or made
there on first use): provision against the state directory the runs use, so
that the DUT's Roots and the repositories stay one.
`, vehicle.KitDirectorRoot, vehicle.KitImageRoot, vehicle.KitTimeKey, vehicle.KitDirectorMetadata, vehicle.KitImageMetadata, vehicle.KitIdentityFile, vehicle.KitKey, vehicle.KitEncKey)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "uptane-hil provision: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if *id == "" || *out == "" {
		return fail(2, "--ecu and --out are required: which Secondary of the rig, and where its kit goes")
	}
	r, err := rigs.Load(*rigFile)
	if err != nil {
		return fail(2, "%v", err)
	}
	e := r.ECU(*id)
	if e == nil {
		return fail(2, "rig %s has no ECU %q", r.File, *id)
	}
	if e.Role != rigs.Secondary {
		return fail(2, "%s is the Primary of rig %s, which runs in uptane-hil; a kit is for a Secondary", e.ID, r.File)
	}
	v, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: *state, Clock: clock.NewWall(), Seed: seed.Seed(*sd)})
	if err != nil {
		return fail(1, "%v", err)
	}
	defer v.Close()
	files, err := vehicle.WriteKit(v, e, *out)
	if err != nil {
		return fail(1, "%v", err)
	}
	for _, f := range files {
		fmt.Println(filepath.Join(*out, f))
	}
	if e.PublicKey != nil {
		fmt.Printf("%s: kit for the ECU's own key (rig public_key): no secret written\n", e.ID)
	} else {
		fmt.Printf("%s: keys derived from seed %d (mode 0600): keep them secret\n", e.ID, vehicle.SeedOf(r, seed.Seed(*sd)))
	}
	return 0
}
