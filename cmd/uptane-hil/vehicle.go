package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/progress"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/seed"
)

func init() {
	register("vehicle", "bring up backend and vehicle from a rig and run an update campaign", runVehicle)
}

type vehicleFlags struct {
	rigFile, out, listen string
	release, seed        uint64
	noSpawn, fresh       bool
	wait                 time.Duration
}

func runVehicle(args []string) int {
	fs := flag.NewFlagSet("vehicle", flag.ContinueOnError)
	var f vehicleFlags
	fs.StringVar(&f.rigFile, "rig", "rigs/virtual.yaml", "rig file")
	fs.StringVar(&f.out, "out", "out", "output directory (state of the backend and ECUs goes to OUT/vehicle)")
	fs.Uint64Var(&f.release, "release", 2, "release counter the campaign assigns to every Secondary")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the run (0: the rig's seed)")
	fs.BoolVar(&f.noSpawn, "no-spawn", false, "wall-clock rigs: do not start the `process: external` ECUs; they run already (uptane-hil ecu)")
	fs.BoolVar(&f.fresh, "fresh", false, "wall-clock rigs with --no-spawn: start from an empty OUT/vehicle instead of the backend state of the last run")
	fs.StringVar(&f.listen, "listen", "", "wall-clock rigs: where the backend is served for ECUs in other processes (default: the rig's backend.listen, else a free port on 127.0.0.1)")
	fs.DurationVar(&f.wait, "wait", vehicle.DefaultWait, "wall-clock rigs: how long to wait for each ECU outside this process to answer on its bus")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil vehicle [--rig FILE] [--out DIR] [--release N] [--seed N]
                        [--no-spawn] [--fresh] [--listen ADDR] [--wait D]

Brings up the rig's backend (Director and Image repository) and vehicle
(Primary and Secondaries), publishes release N of every Secondary's image,
lets the Director assign it, and runs one update cycle end to end, showing
live progress (plain lines when stdout is not a terminal) and a summary.
Exit status 0 only if every Secondary ends on its assigned image (its signed
version report names the assigned image, length and hashes) and the
Director accepted the manifest; 1 otherwise; 2 for bad arguments or a bad
rig file.

Simulated rigs (rigs/virtual.yaml): everything runs in this process on the
timed virtual buses under the simulated clock; OUT/vehicle is made afresh.

Wall-clock SocketCAN rigs (rigs/vcan.yaml): the rig's buses are opened first
(a missing interface is an error naming it and the fix); the backend is
served over HTTP on --listen for ECUs in other processes; every ECU with
process: external is started as its own child process (this program's
"ecu --rig FILE --ecu ID --out OUT/vehicle --backend URL", output in
OUT/vehicle/logs/ID.log) unless --no-spawn; ECUs with process: physical and,
with --no-spawn, the external ones must be running already. Each must answer
on its bus (ReadDataByIdentifier of its serial number) within --wait, or the
error names it. The Primary and in-process Secondaries run here. After the
summary the children are stopped with SIGTERM. OUT/vehicle is made afresh
when this command starts the children; with --no-spawn the backend state of
the last run is reopened (ECUs that keep their state across runs would see
the Director's metadata versions start again otherwise) unless --fresh.

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
		fmt.Fprintf(os.Stderr, "uptane-hil vehicle: unexpected argument %q (flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	if f.release < 2 {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle: --release must be 2 or more (every ECU has release 1 from the factory)")
		return 2
	}
	r, err := rigs.Load(f.rigFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle:", err)
		return 2
	}
	if r.Clock == rigs.WallClock {
		return runVehicleWall(r, f)
	}
	dir := filepath.Join(f.out, "vehicle")
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle:", err)
		return 1
	}
	disp := progress.New(os.Stdout, progress.IsTerminal(os.Stdout))
	sim := clock.NewSim(time.Time{})
	sim.SetHorizon(30 * 24 * time.Hour)
	wall := time.Now()
	var rep *primary.CycleReport
	var v *vehicle.Vehicle
	var verdict vehicle.Verdict
	var runErr error
	err = sim.Run("vehicle", func() {
		v, runErr = vehicle.Build(vehicle.Options{Rig: r, Dir: dir, Clock: sim, Seed: seed.Seed(f.seed), Events: events.Fan(disp.Sink()), Reach: vehicle.ByRig, Wait: f.wait})
		if runErr != nil {
			return
		}
		defer v.Close()
		rep, runErr = v.Campaign(f.release)
		if runErr == nil {
			verdict = vehicle.Judge(rep, v.Primary.Director())
		}
	})
	if err == nil {
		err = runErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle:", err)
		return 1
	}
	fmt.Printf("\ncampaign: release %d on rig %s (seed %d), %s simulated in %s wall\n", f.release, r.Name, v.Seed,
		rep.Finished.Sub(rep.Started).Round(time.Millisecond), time.Since(wall).Round(time.Millisecond))
	return finishCampaign(r, verdict)
}

// finishCampaign prints the verdict of a campaign and returns the exit status.
func finishCampaign(r *rigs.Rig, verdict vehicle.Verdict) int {
	verdict.Print(os.Stdout, r)
	if !verdict.OK {
		fmt.Println("FAIL: not every ECU ended on its assigned image")
		return 1
	}
	fmt.Println("OK: every ECU ended on its assigned image; the Director recorded the versions from the manifest")
	return 0
}

// runVehicleWall is the vehicle on a wall-clock rig: SocketCAN buses, the
// backend served over HTTP, ECUs in their own processes.
func runVehicleWall(r *rigs.Rig, f vehicleFlags) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle:", err)
		return 1
	}
	clk := clock.NewWall()
	sd := vehicle.SeedOf(r, seed.Seed(f.seed))
	dir := filepath.Join(f.out, "vehicle")
	var spawn []*rigs.ECU
	if !f.noSpawn {
		for _, e := range r.Secondaries() {
			if e.Process == rigs.External {
				spawn = append(spawn, e)
			}
		}
	}
	// 1. The buses first: a missing interface stops everything before a
	// backend or a child process starts.
	buses, err := vehicle.OpenBuses(r, clk, sd)
	if err != nil {
		return fail(err)
	}
	defer vehicle.CloseBuses(buses)
	if len(spawn) > 0 || f.fresh {
		if err := os.RemoveAll(dir); err != nil {
			return fail(err)
		}
	}
	// 2. The backend, served for the ECUs in other processes.
	disp := progress.New(os.Stdout, progress.IsTerminal(os.Stdout))
	v, err := vehicle.NewBackend(vehicle.Options{Rig: r, Dir: dir, Clock: clk, Seed: sd, Events: events.Fan(disp.Sink()),
		Reach: vehicle.ByRig, Buses: buses, Wait: f.wait})
	if err != nil {
		return fail(err)
	}
	defer v.Close()
	addr := f.listen
	if addr == "" {
		addr = r.Backend.Listen
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(fmt.Errorf("serve the backend on %s: %w (another uptane-hil vehicle or repo? use --listen)", addr, err))
	}
	srv := &http.Server{Handler: v.Backend, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	backend := "http://" + ln.Addr().String()
	fmt.Printf("backend: Director %s/director/%s/  Image repository %s/image/\n", backend, r.Vehicle.VIN, backend)

	// 3. The ECUs in their own processes.
	kids, err := spawnECUs(r, spawn, f, dir, sd, backend)
	defer kids.stop()
	if err != nil {
		return fail(err)
	}

	// 4. The vehicle: every ECU outside this process must answer.
	start := time.Now()
	if err := v.BringUp(); err != nil {
		return fail(kids.explain(err))
	}
	fmt.Printf("vehicle up in %s: %d Secondaries answer on the bus\n", time.Since(start).Round(time.Millisecond), len(v.Secondaries))

	// 5. The campaign.
	start = time.Now()
	rep, err := v.Campaign(f.release)
	if err != nil {
		return fail(err)
	}
	verdict := vehicle.Judge(rep, v.Primary.Director())
	fmt.Printf("\ncampaign: release %d on rig %s (seed %d), %s wall, %d ECUs in their own processes\n", f.release, r.Name, sd,
		time.Since(start).Round(time.Millisecond), len(kids.procs))
	code := finishCampaign(r, verdict)
	if err := kids.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil vehicle:", err)
		code = 1
	}
	return code
}
