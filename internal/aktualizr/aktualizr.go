// Package aktualizr finds and runs the real aktualizr-secondary (uptane/
// aktualizr's Secondary, built by .ci/aktualizr-build): it writes the
// Secondary's configuration, starts it, waits until it listens, and stops
// it. Specs and the vehicle bring-up use it; it needs no part of the
// harness.
package aktualizr

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Pinned is the upstream commit the build script builds.
const Pinned = "e5118a74874c0561ebac57560c667c18b19d984b"

// DefaultBin is where .ci/aktualizr-build leaves the binary by default.
const DefaultBin = "/var/cache/uptane-hil/aktualizr-e5118a7/build/src/aktualizr_secondary/aktualizr-secondary"

// EnvBin overrides the binary's path; EnvRequire=1 makes a missing binary a
// failure of the specs that need it rather than a skip.
const (
	EnvBin     = "UPTANE_HIL_AKTUALIZR_BIN"
	EnvRequire = "UPTANE_HIL_REQUIRE_AKTUALIZR"
)

// ErrNoBinary: aktualizr-secondary has not been built here.
var ErrNoBinary = errors.New("aktualizr-secondary is not built")

// Binary returns the path of aktualizr-secondary ($UPTANE_HIL_AKTUALIZR_BIN,
// else DefaultBin), or an error wrapping ErrNoBinary saying how to build it.
func Binary() (string, error) {
	p := os.Getenv(EnvBin)
	if p == "" {
		p = DefaultBin
	}
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w at %s (build it with .ci/aktualizr-build, about 2 minutes, or set %s)", ErrNoBinary, p, EnvBin)
	}
	return p, nil
}

// Required reports whether a missing binary must fail the specs.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Verification types of aktualizr-secondary.
const (
	Full = "Full"
	Tuf  = "Tuf"
)

// Options configure one aktualizr-secondary.
type Options struct {
	Bin          string
	Port         int
	Dir          string // state: secondary.toml, sql.db (keys, metadata), firmware.txt
	Serial       string
	HardwareID   string
	KeyType      string // ED25519 (default), RSA2048, RSA3072, RSA4096
	Verification string // Full (default) or Tuf
	LogLevel     int    // 0 trace .. 5 fatal; default 2 (info)
	Log          string // file for its output (default Dir/secondary.log)
	Env          []string
	Wrapper      []string // e.g. faketime: the command runs as Wrapper... Bin -c CFG
	// FakeTime starts it on a clock the harness moves (clock.go: SetTime,
	// SetOffset) through libfaketime and the file Dir/faketime.
	FakeTime bool
}

// Process is a running aktualizr-secondary.
type Process struct {
	Opts Options
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Config returns the Secondary's TOML configuration (a posix file-update
// Secondary listening on Port, keys and state in Dir).
func Config(o Options) string {
	kt, ver := o.KeyType, o.Verification
	if kt == "" {
		kt = "ED25519"
	}
	if ver == "" {
		ver = Full
	}
	ll := o.LogLevel
	if ll == 0 {
		ll = 2
	}
	q := strconv.Quote
	return strings.Join([]string{
		"[logger]", "loglevel = " + strconv.Itoa(ll), "",
		"[network]", "port = " + strconv.Itoa(o.Port), "",
		"[uptane]", "ecu_serial = " + q(o.Serial), "ecu_hardware_id = " + q(o.HardwareID),
		`key_source = "file"`, "key_type = " + q(kt), "verification_type = " + q(ver), "force_install_completion = false", "",
		"[pacman]", `type = "none"`, "",
		"[storage]", `type = "sqlite"`, "path = " + q(o.Dir), `sqldb_path = "sql.db"`, "",
		"[import]", "base_path = " + q(filepath.Join(o.Dir, "import")), "",
		"[bootloader]", `rollback_mode = "none"`, "reboot_sentinel_dir = " + q(filepath.Join(o.Dir, "reboot-sentinel")), `reboot_command = "/bin/true"`, "",
	}, "\n")
}

// Start writes the configuration and starts aktualizr-secondary, and waits
// (up to timeout) until it accepts connections on 127.0.0.1:Port. The
// Secondary keeps its identity in Dir: a fresh Dir is a fresh ECU.
func Start(o Options, timeout time.Duration) (*Process, error) {
	if o.Bin == "" {
		b, err := Binary()
		if err != nil {
			return nil, err
		}
		o.Bin = b
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = abs
	for _, d := range []string{o.Dir, filepath.Join(o.Dir, "import"), filepath.Join(o.Dir, "reboot-sentinel")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(o.Dir, "secondary.toml")
	if err := os.WriteFile(cfg, []byte(Config(o)), 0o600); err != nil {
		return nil, err
	}
	env := o.Env
	if o.FakeTime {
		fe, err := fakeTimeEnv(o.Dir)
		if err != nil {
			return nil, err
		}
		env = append(append([]string{}, env...), fe...)
	}
	if o.Log == "" {
		o.Log = filepath.Join(o.Dir, "secondary.log")
	}
	logf, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	argv := append(append([]string{}, o.Wrapper...), o.Bin, "-c", cfg)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	// Its own process group (a signal to ours does not reach it), but it
	// dies with the process that started it (a spec killed mid-run leaves
	// no Secondary behind on its port).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("aktualizr: start %s: %w", o.Bin, err)
	}
	p := &Process{Opts: o, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)), cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logf.Close(); close(p.done) }()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("aktualizr: %s exited before it listened on %s: %v (log %s: %s)", o.Bin, p.Addr, p.err, o.Log, tail(o.Log))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("aktualizr: %s does not listen on %s after %s (log %s)", o.Bin, p.Addr, timeout, o.Log)
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return strings.TrimSpace(string(b))
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits for the exit.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
}

// Kill sends SIGKILL (a power cut) and waits for the exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ExitErr is how the process ended (valid once Done is closed), e.g.
// "signal: segmentation fault".
func (p *Process) ExitErr() error {
	<-p.done
	return p.err
}
