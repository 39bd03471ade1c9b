package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

func init() {
	register("repo", "serve the rig's Director and Image repository over HTTP", runRepo)
}

func runRepo(args []string) int {
	fs := flag.NewFlagSet("repo", flag.ContinueOnError)
	rigFile := fs.String("rig", "rigs/vcan.yaml", "rig file")
	out := fs.String("out", "out", "output directory (state goes to OUT/repo)")
	listen := fs.String("listen", "", "address to serve on (default: the rig's backend.listen, else 127.0.0.1:8470)")
	sd := fs.Uint64("seed", 0, "seed of the run (0: the rig's seed)")
	release := fs.Uint64("release", 0, "publish release N (2 or more) of every Secondary's image and let the Director assign it before serving (0: only the factory release 1)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil repo [--rig FILE] [--listen ADDR] [--out DIR] [--seed N] [--release N]

Serves the rig's backend alone, on wall-clock time, until SIGINT or SIGTERM:
  /director/VIN/...   the Director (metadata signed on demand, POST manifest)
  /image/...          the Image repository (metadata and images)
The repositories hold release 1 of every ECU's image and the rig's vehicle
in the Director's inventory, with keys derived from the seed, so ECUs built
from the same rig and seed (uptane-hil ecu) trust them. With --release N,
release N of every Secondary's image is published and the Director assigns
it before serving: a campaign is waiting for the vehicle's next cycle.

What the Director recorded from the vehicle's accepted manifests is read at
  GET /director/VIN/installed   {ECU: {filename, length, hashes, ...}}
  GET /director/VIN/records     every manifest received, accepted or not
and printed when the server stops. API: docs/director-api.md. State:
OUT/repo, made afresh at every start (ECUs that keep their state across a
restart of the backend would see its metadata versions start again).

Exit status: 0 after SIGINT or SIGTERM, 1 if serving failed, 2 for bad
arguments or a bad rig file.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "uptane-hil repo: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	if *release == 1 {
		fmt.Fprintln(os.Stderr, "uptane-hil repo: --release 1 is the factory image every ECU has already; give 2 or more")
		return 2
	}
	r, err := rigs.Load(*rigFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return 2
	}
	addr := *listen
	if addr == "" {
		addr = r.Backend.Listen
	}
	if addr == "" {
		addr = "127.0.0.1:8470"
	}
	dir := filepath.Join(*out, "repo")
	os.RemoveAll(dir)
	v, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall(), Seed: seed.Seed(*sd)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return 1
	}
	defer v.Close()
	if *release > 1 {
		if err := v.Publish(*release); err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
			return 1
		}
		for _, e := range r.Secondaries() {
			enc := ""
			if e.Encrypted {
				enc = " (encrypted for it)"
			}
			fmt.Printf("assigned %s → %s%s\n", e.ID, vehicle.ImageName(e.HardwareID, *release), enc)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return 1
	}
	srv := &http.Server{Handler: v.Backend, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	fmt.Printf("serving rig %s: Director http://%s/director/%s/  Image repository http://%s/image/\n", r.Name, ln.Addr(), r.Vehicle.VIN, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return 1
	}
	printInstalled(v)
	return 0
}

// printInstalled prints what the Director recorded from the vehicle's
// accepted manifests.
func printInstalled(v *vehicle.Vehicle) {
	inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return
	}
	recs, _ := v.Director.Records(v.Rig.Vehicle.VIN)
	accepted := 0
	for _, r := range recs {
		if r.Accepted {
			accepted++
		}
	}
	fmt.Printf("the Director recorded (%d manifests received, %d accepted):\n", len(recs), accepted)
	for _, e := range v.Rig.ECUs {
		name := "(no report accepted)"
		if i, ok := inst[e.ID]; ok {
			name = i.Filename
		}
		fmt.Printf("  %-10s %s\n", e.ID, name)
	}
}
