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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil repo [--rig FILE] [--listen ADDR] [--out DIR] [--seed N]

Serves the rig's backend alone, on wall-clock time, until interrupted:
  /director/VIN/...   the Director (metadata signed on demand, POST manifest)
  /image/...          the Image repository (metadata and images)
The repositories hold release 1 of every ECU's image and the rig's vehicle
in the Director's inventory, with keys derived from the seed, so ECUs built
from the same rig and seed trust them. API: docs/director-api.md.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
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
	v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: clock.NewWall(), Seed: seed.Seed(*sd), BackendOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil repo:", err)
		return 1
	}
	defer v.Close()
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
	return 0
}
