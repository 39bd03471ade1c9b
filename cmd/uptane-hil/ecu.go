package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/progress"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

func init() {
	register("ecu", "run one ECU of a rig as its own process on the rig's SocketCAN bus", runECU)
}

func runECU(args []string) int {
	fs := flag.NewFlagSet("ecu", flag.ContinueOnError)
	rigFile := fs.String("rig", "rigs/vcan.yaml", "rig file")
	id := fs.String("ecu", "", "the ECU identifier in the rig (required)")
	out := fs.String("out", "out", "output directory: the ECU's state is OUT/ecu/ID")
	backend := fs.String("backend", "", "base URL of the backend (default: http://LISTEN of the rig's backend.listen, or its remote URLs)")
	sd := fs.Uint64("seed", 0, "seed the factory derives the ECU's keys and image from (0: the rig's seed)")
	wait := fs.Duration("wait", vehicle.DefaultWait, "how long to wait for the backend (first start) and, on the Primary, for each Secondary to answer on the bus")
	cycles := fs.Int("cycles", 0, "Primary: update cycles to run, then exit (0: run cycles until interrupted)")
	interval := fs.Duration("interval", 30*time.Second, "Primary: pause between update cycles")
	without := fs.String("without", "", "Secondary: switch these checks off, CHECK[,CHECK...] (a deliberately vulnerable ECU; names as in uptane/check.All)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil ecu --rig FILE --ecu ID [--out DIR] [--backend URL] [--seed N] [--wait D]
                    [--cycles N] [--interval D] [--without CHECK[,CHECK...]]

Runs one ECU of the rig as this process, on the rig's SocketCAN bus (the
buses it is on), on wall-clock time, until SIGINT or SIGTERM; the Primary
also stops after --cycles N. Start the backend first (uptane-hil repo, or
uptane-hil vehicle --no-spawn), then the Secondaries, then the Primary.

State: OUT/ecu/ID. On the first start the ECU is provisioned as in the
factory: its key pair derived from the seed as uptane-hil vehicle and repo
derive it (so the Director's inventory matches; kept in OUT/ecu/ID/keys,
mode 0600), its factory image (release 1), and the Director's and, for
full verification, the Image repository's Root fetched from the backend
over HTTP. Every later start boots from the persisted state (after kill -9
too) and never provisions over it; remove the directory to provision again.

A Secondary serves the in-vehicle protocol (UDS on ISO-TP, docs/pouf.md) on
its bus at its rig ISO-TP identifiers. It prints the image it booted (its
bytes checked against its length and hashes), then
"ID: serving UDS on ISO-TP on bus ...".

A Secondary with programming preconditions in the rig (preconditions:,
docs/restbus.md) reads their signals off its bus with the bus's DBC file,
whoever sends them (uptane-hil run's rest-bus, a car's network, an
attacker), and refuses the programming session, file transfers and the
install with NRC 0x22 conditionsNotCorrect while one does not hold; a
signal never seen, or not seen within its timeout, is unmet. DID 0xF1A9
says which. It prints which signals it reads, each the first time it sees
it, and every change: "ID: programming refused: ..." and "ID: programming
preconditions hold".

With --without CHECK[,CHECK...] a Secondary runs with those checks switched
off: a deliberately vulnerable ECU, for demonstrations and as a device under
test the suite must catch. Each name is a check of uptane/check.All that a
Secondary of its profile performs (e.g. verify_image.release_counter,
check_targets.version; check_timestamp.expiry only on full verification);
anything else is refused. It prints "ID: VULNERABLE: running without ..."
before it serves.

The Primary waits until every Secondary answers on its bus, then runs update
cycles against the backend over HTTP and talks to the Secondaries over the
bus, with live progress and a summary per cycle. On SIGINT or SIGTERM it
stops after the cycle under way (a second signal stops it at once).

Exit status: 0 when a Secondary was stopped by SIGINT or SIGTERM, or when
the Primary's last cycle left every Secondary on its assigned image
(according to its signed version report) and the Director accepted the
manifest; 1 otherwise; 2 for bad arguments or a bad rig file.

Power-loss tests: with %s=GLOB[#N] in the environment the ECU
kills itself with SIGKILL the N-th time its store passes a crash point
matching GLOB. The store's crash points (docs/architecture.md) are
POINT:before, POINT:torn and POINT:after of each durable write, POINT one of
install:slot-a, install:slot-b (the image into the inactive slot),
install:switch (the state file that switches slots), meta:NAME (trusted
metadata), nonce, time, report, attack, boot; e.g. install:switch:after or
"install:slot-*:torn#1". A Secondary also passes points where no durable
write happens (docs/pouf.md, "Power loss"): transfer:PATH:start,
transfer:PATH:block@OFFSET and transfer:PATH:exit of each file it receives
over the bus (PATH as in the POUF, e.g. image/ecm-v3/firmware-r2.bin), and
verify-image; e.g. "transfer:image/*/*:block@*#3".

`, vehicle.CrashEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "uptane-hil ecu: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if *id == "" {
		return fail(2, "--ecu is required: which ECU of the rig to run")
	}
	if *cycles < 0 || *interval <= 0 || *wait <= 0 {
		return fail(2, "--cycles must be 0 or more, --interval and --wait positive")
	}
	r, err := rigs.Load(*rigFile)
	if err != nil {
		return fail(2, "%v", err)
	}
	e := r.ECU(*id)
	if e == nil {
		ids := ""
		for i := range r.ECUs {
			if i > 0 {
				ids += ", "
			}
			ids += r.ECUs[i].ID
		}
		return fail(2, "rig %s has no ECU %q (it has %s)", r.File, *id, ids)
	}
	if r.Clock != rigs.WallClock {
		return fail(2, "rig %s runs on simulated time on in-process buses: an ECU in its own process needs a wall-clock rig with SocketCAN buses (rigs/vcan.yaml)", r.File)
	}
	if e.Process == rigs.Physical {
		return fail(2, "%s is a physical ECU in rig %s (process: physical): it runs its own firmware", e.ID, r.File)
	}
	cyclesSet := false
	fs.Visit(func(f *flag.Flag) { cyclesSet = cyclesSet || f.Name == "cycles" || f.Name == "interval" })
	if e.Role == rigs.Secondary && cyclesSet {
		return fail(2, "--cycles and --interval are for the Primary (%s); %s is a Secondary", r.Primary().ID, e.ID)
	}
	var profile check.Profile
	if *without != "" {
		if profile, err = withoutProfile(*without, e); err != nil {
			return fail(2, "%v", err)
		}
	}
	crash, err := vehicle.CrashAt(os.Getenv(vehicle.CrashEnv))
	if err != nil {
		return fail(2, "%v", err)
	}
	o := vehicle.ProcessOptions{Rig: r, ECU: e.ID, Dir: filepath.Join(*out, "ecu", e.ID), Seed: seed.Seed(*sd), Backend: *backend,
		Clock: clock.NewWall(), Crash: crash, Wait: *wait, Profile: profile}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if e.Role == rigs.Secondary {
		return runSecondaryECU(o, sigs)
	}
	return runPrimaryECU(o, sigs, *cycles, *interval)
}

func runSecondaryECU(o vehicle.ProcessOptions, sigs chan os.Signal) int {
	started := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			// stopped while starting: nothing is half-written (the factory
			// renames a complete state directory into place)
			fmt.Fprintf(os.Stderr, "uptane-hil ecu: %s: %s while starting\n", o.ECU, s)
			os.Exit(1)
		case <-started:
		}
	}()
	var logMu sync.Mutex
	o.Log = func(s string) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Printf("%s: %s\n", o.ECU, s)
	}
	p, err := vehicle.StartSecondary(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil ecu:", err)
		return 1
	}
	close(started)
	e, b := p.ECU, o.Rig.Bus(p.ECU.Bus)
	if text := vehicle.PreconditionsText(o.Rig, e); text != "" {
		if o.Profile.On(check.PoufProgrammingPreconditions) {
			o.Log(text + "; a signal not seen yet, or stale, is unmet: programming is refused (NRC 0x22) until every one holds")
		} else {
			o.Log("VULNERABLE: does not read its " + text + " (running without " + check.PoufProgrammingPreconditions.String() + ")")
		}
	}
	if p.Provisioned {
		fmt.Printf("%s: provisioned in %s: factory image %s, keys from seed %d, Roots from the backend\n", e.ID, p.Dir,
			vehicle.ImageName(e.HardwareID, 1), vehicle.SeedOf(o.Rig, o.Seed))
	}
	if len(o.Profile.Disabled) > 0 {
		names := make([]string, len(o.Profile.Disabled))
		for i, id := range o.Profile.Disabled {
			names[i] = id.String()
		}
		fmt.Printf("%s: VULNERABLE: running without %s\n", e.ID, strings.Join(names, ", "))
	}
	fmt.Printf("%s: booted %s (release %d, %d bytes, whole) from %s\n", e.ID, p.Booted.Name, p.Booted.ReleaseCounter, p.Booted.Length, p.Dir)
	fmt.Printf("%s: serving UDS on ISO-TP on bus %s (%s), request %#x, response %#x (%s verification, %s ISO-TP)\n", e.ID, e.Bus, b.Interface,
		e.ISOTP.Request, e.ISOTP.Response, e.Profile, e.ISOTP.Stack)
	s := <-sigs
	p.Close()
	fmt.Printf("%s: stopped (%s)\n", e.ID, s)
	return 0
}

func runPrimaryECU(o vehicle.ProcessOptions, sigs chan os.Signal, cycles int, interval time.Duration) int {
	stop := make(chan struct{})
	started := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "uptane-hil ecu: %s: %s while starting\n", o.ECU, s)
			os.Exit(1)
		case <-started:
		}
		s := <-sigs
		fmt.Fprintf(os.Stderr, "uptane-hil ecu: %s: %s: stopping after this cycle (again to stop now)\n", o.ECU, s)
		close(stop)
		<-sigs
		os.Exit(1)
	}()
	disp := progress.New(os.Stdout, progress.IsTerminal(os.Stdout))
	o.Events = events.Fan(disp.Sink())
	fmt.Printf("%s: waiting for %d Secondaries on the bus (at most %s)\n", o.ECU, len(o.Rig.Secondaries()), o.Wait)
	p, err := vehicle.StartPrimary(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil ecu:", err)
		return 1
	}
	defer p.Close()
	close(started)
	if p.Provisioned {
		fmt.Printf("%s: provisioned in %s (keys from seed %d, Roots from the backend, Secondaries' identities pinned)\n", o.ECU, o.Dir, vehicle.SeedOf(o.Rig, o.Seed))
	} else {
		fmt.Printf("%s: booted from %s\n", o.ECU, o.Dir)
	}
	fmt.Printf("%s: every Secondary answers; Director %s, Image repository %s\n", o.ECU, p.Config.DirectorURL, p.Config.ImageURL)
	ok := false
loop:
	for n := 1; ; n++ {
		start := time.Now()
		_, verdict := p.Cycle()
		fmt.Printf("\ncycle %d: %s\n", n, time.Since(start).Round(time.Millisecond))
		verdict.Print(os.Stdout, o.Rig)
		ok = verdict.OK
		if ok {
			fmt.Printf("cycle %d: OK: every Secondary is on its assigned image; the Director accepted the manifest\n", n)
		} else {
			fmt.Printf("cycle %d: FAIL: not every Secondary is on its assigned image\n", n)
		}
		if cycles != 0 && n >= cycles {
			break
		}
		select {
		case <-stop:
			break loop
		case <-time.After(interval):
		}
	}
	if !ok {
		return 1
	}
	return 0
}
