// Package rigs loads rig files (rigs/*.yaml): which buses exist (virtual or
// SocketCAN), which ECUs sit on them and how they are reached, and where the
// Director and Image repositories are. A rig is the one switch between the
// embedded virtual vehicle, vcan, and a bench with real ECUs on a USB-CAN
// adapter: the code path after loading is the same.
package rigs

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/yamlx"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// Rig is a parsed rig file.
type Rig struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Seed        uint64  `yaml:"seed"`
	Clock       string  `yaml:"clock"` // "simulated" or "wall"
	Buses       []Bus   `yaml:"buses"`
	Backend     Backend `yaml:"backend"`
	Vehicle     Vehicle `yaml:"vehicle"`
	ECUs        []ECU   `yaml:"ecus"`

	// File is the path the rig was loaded from.
	File string `yaml:"-"`
	doc  *yamlx.Doc
}

// Bus is one CAN segment.
type Bus struct {
	Name        string `yaml:"name"`
	Kind        string `yaml:"kind"`         // "virtual" or "socketcan"
	Interface   string `yaml:"interface"`    // socketcan: vcan0, can0, ...
	Bitrate     int    `yaml:"bitrate"`      // nominal bit rate, bit/s
	DataBitrate int    `yaml:"data_bitrate"` // CAN FD data phase bit rate, bit/s
	FD          bool   `yaml:"fd"`
	Timed       *bool  `yaml:"timed"` // virtual: model frame timing (default true under the simulated clock)
	// Faults is noise the bus injects, drawn from the run's seed
	// (faults.go); virtual buses only.
	Faults []Fault `yaml:"faults"`
	// Restbus sends the cyclic traffic of the vehicle's other ECUs from a
	// DBC file (restbus.go).
	Restbus *Restbus `yaml:"restbus"`
}

// Backend says where the Director and Image repositories are.
type Backend struct {
	Mode        string `yaml:"mode"`         // "embedded" (in-process) or "remote"
	Listen      string `yaml:"listen"`       // embedded: serve HTTP here too (e.g. 127.0.0.1:8470), "" for in-process only
	DirectorURL string `yaml:"director_url"` // remote: the Director's base; a vehicle's files are at DIRECTOR_URL/VIN/...
	ImageURL    string `yaml:"image_url"`    // remote: the Image repository's base
	Expiry      Expiry `yaml:"expiry"`
	// KeyTypes is what the embedded repositories sign with.
	KeyTypes RepoKeyTypes `yaml:"key_types"`
}

// RepoKeyTypes is the key type each embedded repository makes its keys of
// (every top-level role; the Image repository's supplier roles too): one
// of keys.Types — ed25519 (default), ecdsa (P-256; ecdsa-sha2-nistp256 is
// the same), ecdsa-sha2-nistp384, rsa (RSA-PSS 2048 bit), rsa-3072,
// rsa-4096.
type RepoKeyTypes struct {
	Director string `yaml:"director"`
	Image    string `yaml:"image"`
}

// Expiry sets how long each role's metadata is valid.
type Expiry struct {
	Root      time.Duration `yaml:"root"`
	Targets   time.Duration `yaml:"targets"`
	Snapshot  time.Duration `yaml:"snapshot"`
	Timestamp time.Duration `yaml:"timestamp"`
}

// Vehicle identifies the vehicle.
type Vehicle struct {
	VIN string `yaml:"vin"`
}

// ECU is one ECU of the vehicle.
type ECU struct {
	ID         string   `yaml:"id"`          // Uptane ECU identifier (serial number)
	HardwareID string   `yaml:"hardware_id"` // Uptane hardware identifier
	Role       string   `yaml:"role"`        // "primary" or "secondary"
	Profile    string   `yaml:"profile"`     // "full" or "partial" (secondaries)
	Bus        string   `yaml:"bus"`         // secondaries: the bus it is on
	Buses      []string `yaml:"buses"`       // primary: the buses it is gateway to
	Process    string   `yaml:"process"`     // "in-process", "external" (uptane-hil ecu) or "physical"
	KeyType    string   `yaml:"key_type"`    // one of keys.Types: ed25519 (default), ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, rsa, ...
	Encrypted  bool     `yaml:"encrypted"`   // images are encrypted for this ECU
	ImageSize  int      `yaml:"image_size"`  // bytes of the factory image (default 16 KiB)
	ISOTP      ISOTP    `yaml:"isotp"`
	// PublicKey is a physical ECU's own signing key, as it reports it
	// (the POUF's public-key DID): the Director's inventory holds this key
	// instead of one derived from the seed.
	PublicKey *PublicKey `yaml:"public_key"`
	// Power is how the harness switches a Secondary's supply off and on
	// (a bench's USB relay or lab supply, or kill/restart of an external
	// process); nil when it cannot.
	Power *Power `yaml:"power"`
	// DUT marks the device under test: a Secondary the harness does not run
	// (process external or physical, on a SocketCAN bus) that the attack
	// suite is to be played against (issue 10; the runner is not built yet,
	// so uptane-hil run refuses such a rig). At most one per rig.
	DUT bool `yaml:"dut"`
	// DBCNode is the node this ECU is in its buses' DBC files (default:
	// its identifier up to the first '-'); the rest-bus does not simulate
	// it.
	DBCNode string `yaml:"dbc_node"`
	// Preconditions are a Secondary's programming preconditions on signals
	// of its bus's DBC (restbus.go): while one is unmet it refuses the
	// programming session and file transfers (NRC 0x22).
	Preconditions []Precondition `yaml:"preconditions"`
	conditions    []restbus.Condition
	// Protocol is how the Primary reaches a Secondary: "uds" (the default:
	// Uptane on UDS on ISO-TP on its bus, docs/pouf.md) or "aktualizr-ip"
	// (aktualizr's IP Secondary protocol, DER over TCP at Address,
	// docs/aktualizr-ip.md).
	Protocol string `yaml:"protocol"`
	// Address is an aktualizr-ip Secondary's TCP address, host:port. One of
	// ours can instead be on bus: (the DER messages over ISO-TP).
	Address string `yaml:"address"`
	// Aktualizr configures a Secondary with process: aktualizr-secondary
	// (the real aktualizr-secondary, which uptane-hil starts).
	Aktualizr AktualizrECU `yaml:"aktualizr"`
}

// Power switches an ECU's power supply with shell commands (run with
// sh -c, the ECU's identifier in UPTANE_HIL_ECU): ecus/power runs them.
type Power struct {
	Off string `yaml:"off"` // cuts the supply, e.g. "usbrelay RELAY_1=0"
	On  string `yaml:"on"`  // restores it, e.g. "usbrelay RELAY_1=1"
	// Timeout bounds each command (default DefaultPowerTimeout).
	Timeout time.Duration `yaml:"timeout"`
	// CutAt lists the points of an update at which power-loss scenarios may
	// cut this ECU's power (default: every point, PowerPoints).
	CutAt []PowerPoint `yaml:"cut_at"`
}

// PowerPoint is a moment of an update at which the power can be cut.
type PowerPoint string

// The points a power-loss scenario may cut the power at.
const (
	CutTransfer PowerPoint = "transfer" // while the image is transferred over the bus
	CutInstall  PowerPoint = "install"  // after the image is verified, while it is written
	CutReset    PowerPoint = "reset"    // at the ECU reset that boots the new image
)

// PowerPoints lists every point, in the order of an update.
var PowerPoints = []PowerPoint{CutTransfer, CutInstall, CutReset}

// DefaultPowerTimeout bounds a power command when the rig gives no timeout.
const DefaultPowerTimeout = 10 * time.Second

// MaxPowerTimeout is the longest timeout a rig may give a power command.
const MaxPowerTimeout = 10 * time.Minute

// Cuts reports whether the power may be cut at point pt.
func (p *Power) Cuts(pt PowerPoint) bool {
	if p == nil {
		return false
	}
	for _, c := range p.CutAt {
		if c == pt {
			return true
		}
	}
	return false
}

// AktualizrECU is how uptane-hil starts an aktualizr-secondary.
type AktualizrECU struct {
	// Verification is its verification_type: "full" (Director Root and
	// Targets, and the Image repository) or "tuf" (the Image repository
	// only). Default full.
	Verification string `yaml:"verification"`
	// KeyType of the key it makes on its first start: ED25519 (default),
	// RSA2048, RSA3072 or RSA4096.
	KeyType string `yaml:"key_type"`
	// Binary is its path (default: $UPTANE_HIL_AKTUALIZR_BIN, else where
	// .ci/aktualizr-build puts it).
	Binary string `yaml:"binary"`
}

// PublicKey is an ECU's public key in TUF's key format
// ({"keytype", "scheme", "keyval": {"public"}}).
type PublicKey struct {
	KeyType string `yaml:"keytype"` // ed25519, ecdsa (or ecdsa-sha2-nistp256/384), rsa
	Scheme  string `yaml:"scheme"`  // ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, rsassa-pss-sha256
	Public  string `yaml:"public"`  // ed25519: hex; ECDSA and RSA: PEM (PKIX)
}

// Key returns the key in go-tuf's form.
func (k *PublicKey) Key() *metadata.Key {
	return &metadata.Key{Type: k.KeyType, Scheme: k.Scheme, Value: metadata.KeyVal{PublicKey: k.Public}}
}

// ISOTP is how the Primary reaches a Secondary.
type ISOTP struct {
	Request   uint32        `yaml:"request"`  // CAN id Primary → ECU
	Response  uint32        `yaml:"response"` // CAN id ECU → Primary
	Extended  bool          `yaml:"extended"` // 29-bit identifiers
	FD        bool          `yaml:"fd"`       // CAN FD frames (the bus must be FD)
	BlockSize int           `yaml:"block_size"`
	STmin     time.Duration `yaml:"stmin"`
}

// Roles and values.
const (
	Primary   = "primary"
	Secondary = "secondary"
	Full      = "full"
	Partial   = "partial"
	Virtual   = "virtual"
	SocketCAN = "socketcan"
	InProcess = "in-process"
	External  = "external"
	Physical  = "physical"
	// AktualizrSecondary: the real aktualizr-secondary, started by uptane-hil.
	AktualizrSecondary = "aktualizr-secondary"
	UDS                = "uds"
	AktualizrIP        = "aktualizr-ip"
	Simulated          = "simulated"
	WallClock          = "wall"
	Embedded           = "embedded"
	Remote             = "remote"
)

// validateAktualizrIP checks a Secondary reached over aktualizr's IP
// Secondary protocol: TCP at a host:port, or (one of ours only) the same
// DER messages over ISO-TP on its bus; it reports the latter, whose bus and
// ISO-TP identifiers are checked as a UDS Secondary's.
func (r *Rig) validateAktualizrIP(f string, e *ECU) (overISOTP bool, err error) {
	if e.Role != Secondary {
		return false, r.Errorf(f+".protocol", "only a Secondary speaks aktualizr-ip")
	}
	if e.Bus != "" {
		if e.Address != "" {
			return false, r.Errorf(f+".address", "an aktualizr-ip Secondary is reached either at address: (TCP) or on bus: (ISO-TP), not both")
		}
		if e.Process != InProcess {
			return false, r.Errorf(f+".process", "aktualizr-ip over ISO-TP is served by our own Secondaries (in-process) only; aktualizr-secondary speaks TCP")
		}
		if e.Encrypted {
			return false, r.Errorf(f+".encrypted", "aktualizr-ip carries no image encryption")
		}
		return true, nil
	}
	return false, r.validateAktualizrTCP(f, e)
}

func (r *Rig) validateAktualizrTCP(f string, e *ECU) error {
	host, port, err := net.SplitHostPort(e.Address)
	if err != nil || host == "" {
		return r.Errorf(f+".address", "%q: an aktualizr-ip Secondary needs its TCP address, host:port", e.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return r.Errorf(f+".address", "%q: port %q is not 1..65535", e.Address, port)
	}
	if e.Process == External {
		return r.Errorf(f+".process", "an aktualizr-ip Secondary runs in-process (ours), as aktualizr-secondary (started by uptane-hil) or physical")
	}
	if e.Profile == "" {
		e.Profile = Full
	}
	if e.Profile != Full {
		return r.Errorf(f+".profile", "an aktualizr-ip Secondary verifies fully (our own) or as its aktualizr.verification says")
	}
	if e.Encrypted {
		return r.Errorf(f+".encrypted", "aktualizr-ip carries no image encryption")
	}
	if e.KeyType == "" {
		e.KeyType = "ed25519"
	}
	a := &e.Aktualizr
	if a.Verification == "" {
		a.Verification = Full
	}
	if !oneOf(a.Verification, Full, "tuf") {
		return r.Errorf(f+".aktualizr.verification", "%q is not one of full, tuf", a.Verification)
	}
	if a.KeyType == "" {
		a.KeyType = "ED25519"
	}
	if !oneOf(a.KeyType, "ED25519", "RSA2048", "RSA3072", "RSA4096") {
		return r.Errorf(f+".aktualizr.key_type", "%q is not one of ED25519, RSA2048, RSA3072, RSA4096", a.KeyType)
	}
	if e.ImageSize == 0 {
		e.ImageSize = 16 << 10
	}
	if e.Process == AktualizrSecondary || e.Process == Physical {
		for _, kt := range []struct{ f, v string }{{"director", r.Backend.KeyTypes.Director}, {"image", r.Backend.KeyTypes.Image}} {
			if !oneOf(kt.v, "", keys.Ed25519, keys.RSA, keys.RSA3072, keys.RSA4096) {
				return r.Errorf("backend.key_types."+kt.f, "%q: aktualizr-secondary %s verifies ed25519 and RSA signatures only", kt.v, e.ID)
			}
		}
	}
	if (e.Process == AktualizrSecondary || e.Process == Physical) && r.Clock != WallClock {
		return r.Errorf(f+".process", "aktualizr-secondary judges expiry by its system clock: the rig runs on clock: wall")
	}
	return nil
}

// Load reads and validates a rig file.
func Load(path string) (*Rig, error) {
	var r Rig
	doc, err := yamlx.ReadFile(path, &r)
	if err != nil {
		return nil, err
	}
	r.File, r.doc = path, doc
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Parse validates rig data named file.
func Parse(file string, data []byte) (*Rig, error) {
	var r Rig
	doc, err := yamlx.Decode(file, data, &r)
	if err != nil {
		return nil, err
	}
	r.File, r.doc = file, doc
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Errorf returns an error located at a field of the rig file.
func (r *Rig) Errorf(field, format string, args ...any) error {
	if r.doc == nil {
		return fmt.Errorf("%s: %s: %s", r.File, field, fmt.Sprintf(format, args...))
	}
	return r.doc.Errorf(field, format, args...)
}

// Primary returns the Primary ECU.
func (r *Rig) Primary() *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].Role == Primary {
			return &r.ECUs[i]
		}
	}
	return nil
}

// Secondaries returns the Secondary ECUs in file order.
func (r *Rig) Secondaries() []*ECU {
	var out []*ECU
	for i := range r.ECUs {
		if r.ECUs[i].Role == Secondary {
			out = append(out, &r.ECUs[i])
		}
	}
	return out
}

// ECU returns the ECU with the given identifier.
func (r *Rig) ECU(id string) *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].ID == id {
			return &r.ECUs[i]
		}
	}
	return nil
}

// DUT returns the device under test (the ECU with dut: true), or nil.
func (r *Rig) DUT() *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].DUT {
			return &r.ECUs[i]
		}
	}
	return nil
}

// Bus returns the bus with the given name.
func (r *Rig) Bus(name string) *Bus {
	for i := range r.Buses {
		if r.Buses[i].Name == name {
			return &r.Buses[i]
		}
	}
	return nil
}

// IsTimed reports whether a virtual bus models frame timing.
func (r *Rig) IsTimed(b *Bus) bool {
	if b.Timed != nil {
		return *b.Timed
	}
	return b.Kind == Virtual && r.Clock == Simulated
}

var (
	idRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

func oneOf(v string, opts ...string) bool {
	for _, o := range opts {
		if v == o {
			return true
		}
	}
	return false
}

func (r *Rig) validate() error {
	if r.Name == "" {
		return r.Errorf("name", "missing: give the rig a name")
	}
	if r.Clock == "" {
		r.Clock = Simulated
		for _, b := range r.Buses {
			if b.Kind == SocketCAN {
				r.Clock = WallClock
			}
		}
	}
	if !oneOf(r.Clock, Simulated, WallClock) {
		return r.Errorf("clock", "%q is not one of simulated, wall", r.Clock)
	}
	if len(r.Buses) == 0 {
		return r.Errorf("buses", "a rig needs at least one bus")
	}
	busNames := map[string]bool{}
	for i := range r.Buses {
		b := &r.Buses[i]
		f := fmt.Sprintf("buses[%d]", i)
		if !nameRe.MatchString(b.Name) {
			return r.Errorf(f+".name", "%q: use 1-32 lower-case letters, digits, - or _", b.Name)
		}
		if busNames[b.Name] {
			return r.Errorf(f+".name", "bus %q is defined twice", b.Name)
		}
		busNames[b.Name] = true
		if b.Kind == "" {
			b.Kind = Virtual
		}
		switch b.Kind {
		case Virtual:
			if b.Interface != "" {
				return r.Errorf(f+".interface", "only socketcan buses have an interface")
			}
		case SocketCAN:
			if b.Interface == "" {
				return r.Errorf(f+".interface", "missing: a socketcan bus needs an interface (vcan0, can0, ...)")
			}
			if r.Clock == Simulated {
				return r.Errorf("clock", "a rig with socketcan buses runs on wall-clock time: set clock: wall")
			}
		default:
			return r.Errorf(f+".kind", "%q is not one of virtual, socketcan", b.Kind)
		}
		if b.Bitrate == 0 {
			b.Bitrate = 500_000
		}
		if b.Bitrate < 10_000 || b.Bitrate > 1_000_000 {
			return r.Errorf(f+".bitrate", "%d bit/s is outside 10 kbit/s..1 Mbit/s", b.Bitrate)
		}
		if b.FD {
			if b.DataBitrate == 0 {
				b.DataBitrate = 2_000_000
			}
			if b.DataBitrate < b.Bitrate || b.DataBitrate > 12_000_000 {
				return r.Errorf(f+".data_bitrate", "%d bit/s must be between the nominal bit rate and 12 Mbit/s", b.DataBitrate)
			}
		} else if b.DataBitrate != 0 {
			return r.Errorf(f+".data_bitrate", "only CAN FD buses (fd: true) have a data bit rate")
		}
	}
	for i := range r.Buses {
		if err := r.validateFaults(fmt.Sprintf("buses[%d]", i), &r.Buses[i]); err != nil {
			return err
		}
	}
	if r.Backend.Mode == "" {
		r.Backend.Mode = Embedded
	}
	switch r.Backend.Mode {
	case Embedded:
		if r.Backend.DirectorURL != "" || r.Backend.ImageURL != "" {
			return r.Errorf("backend.director_url", "an embedded backend has no URLs; set mode: remote to use running repositories")
		}
	case Remote:
		if r.Backend.DirectorURL == "" {
			return r.Errorf("backend.director_url", "missing: a remote backend needs director_url")
		}
		if r.Backend.ImageURL == "" {
			return r.Errorf("backend.image_url", "missing: a remote backend needs image_url")
		}
	default:
		return r.Errorf("backend.mode", "%q is not one of embedded, remote", r.Backend.Mode)
	}
	for _, kt := range []struct{ f, v string }{{"director", r.Backend.KeyTypes.Director}, {"image", r.Backend.KeyTypes.Image}} {
		if !keys.ValidType(kt.v) {
			return r.Errorf("backend.key_types."+kt.f, "%q is not one of %s", kt.v, strings.Join(keys.Types(), ", "))
		}
		if kt.v != "" && r.Backend.Mode == Remote {
			return r.Errorf("backend.key_types."+kt.f, "a remote backend makes its own keys; key_types is for the embedded one")
		}
	}
	e := &r.Backend.Expiry
	for _, x := range []struct {
		f   string
		v   *time.Duration
		def time.Duration
	}{{"root", &e.Root, 365 * 24 * time.Hour}, {"targets", &e.Targets, 90 * 24 * time.Hour},
		{"snapshot", &e.Snapshot, 7 * 24 * time.Hour}, {"timestamp", &e.Timestamp, 24 * time.Hour}} {
		if *x.v == 0 {
			*x.v = x.def
		}
		if *x.v < time.Minute {
			return r.Errorf("backend.expiry."+x.f, "%s is shorter than a minute", *x.v)
		}
	}
	if r.Vehicle.VIN == "" {
		return r.Errorf("vehicle.vin", "missing: the vehicle needs a VIN")
	}
	if !idRe.MatchString(r.Vehicle.VIN) {
		return r.Errorf("vehicle.vin", "%q: use 1-32 letters, digits, . _ -", r.Vehicle.VIN)
	}
	if err := r.validateECUs(busNames); err != nil {
		return err
	}
	return r.validateRestbus()
}

func (r *Rig) validateECUs(busNames map[string]bool) error {
	if len(r.ECUs) == 0 {
		return r.Errorf("ecus", "a rig needs a Primary ECU and at least one Secondary")
	}
	ids := map[string]bool{}
	primaries := 0
	type key struct {
		bus string
		id  uint32
		ext bool
	}
	used := map[key]string{}
	perBus := map[string]uint32{}
	for i := range r.ECUs {
		e := &r.ECUs[i]
		f := fmt.Sprintf("ecus[%d]", i)
		if !idRe.MatchString(e.ID) {
			return r.Errorf(f+".id", "%q: an ECU identifier is 1-32 letters, digits, . _ -", e.ID)
		}
		if ids[e.ID] {
			return r.Errorf(f+".id", "ECU %q is defined twice", e.ID)
		}
		ids[e.ID] = true
		if !idRe.MatchString(e.HardwareID) {
			return r.Errorf(f+".hardware_id", "%q: a hardware identifier is 1-32 letters, digits, . _ -", e.HardwareID)
		}
		if e.Process == "" {
			e.Process = InProcess
		}
		if !oneOf(e.Process, InProcess, External, Physical, AktualizrSecondary) {
			return r.Errorf(f+".process", "%q is not one of in-process, external, physical, aktualizr-secondary", e.Process)
		}
		if e.Protocol == "" {
			e.Protocol = UDS
		}
		if !oneOf(e.Protocol, UDS, AktualizrIP) {
			return r.Errorf(f+".protocol", "%q is not one of uds, aktualizr-ip", e.Protocol)
		}
		if e.Protocol == AktualizrIP {
			overISOTP, err := r.validateAktualizrIP(f, e)
			if err != nil {
				return err
			}
			if !overISOTP {
				continue
			}
		}
		if e.Process == AktualizrSecondary {
			return r.Errorf(f+".process", "aktualizr-secondary speaks aktualizr-ip: set protocol: aktualizr-ip and address:")
		}
		if e.Address != "" {
			return r.Errorf(f+".address", "only an aktualizr-ip Secondary has an address; this one is reached over UDS on its bus")
		}
		if e.KeyType == "" {
			e.KeyType = keys.Ed25519
		}
		if !keys.ValidType(e.KeyType) {
			return r.Errorf(f+".key_type", "%q is not one of %s", e.KeyType, strings.Join(keys.Types(), ", "))
		}
		if e.PublicKey != nil {
			if e.Process != Physical {
				return r.Errorf(f+".public_key", "only a physical ECU brings its own key; uptane-hil derives the others' keys from the seed")
			}
			if _, err := e.PublicKey.Key().ID(); err != nil || e.PublicKey.KeyType == "" || e.PublicKey.Scheme == "" || e.PublicKey.Public == "" {
				return r.Errorf(f+".public_key", "needs keytype, scheme and public (the key as the ECU reports it in its public-key DID)")
			}
			if _, err := keys.PublicKey(e.PublicKey.Key()); err != nil {
				return r.Errorf(f+".public_key", "%v", err)
			}
		}
		if err := r.validatePower(f, e); err != nil {
			return err
		}
		if e.ImageSize == 0 {
			e.ImageSize = 16 << 10
		}
		if e.ImageSize < 1 || e.ImageSize > 64<<20 {
			return r.Errorf(f+".image_size", "%d bytes is outside 1 byte..64 MiB", e.ImageSize)
		}
		switch e.Role {
		case Primary:
			primaries++
			if e.Profile == "" {
				e.Profile = Full
			}
			if e.Profile != Full {
				return r.Errorf(f+".profile", "a Primary performs full verification ({#full_verification}); profile must be full")
			}
			if e.Bus != "" {
				return r.Errorf(f+".bus", "the Primary lists its buses under buses:")
			}
			if len(e.Buses) == 0 {
				return r.Errorf(f+".buses", "missing: the buses the Primary reaches its Secondaries on")
			}
			for j, b := range e.Buses {
				if !busNames[b] {
					return r.Errorf(fmt.Sprintf("%s.buses[%d]", f, j), "no bus named %q in buses:", b)
				}
			}
			if e.Process == Physical {
				return r.Errorf(f+".process", "the Primary runs in uptane-hil (in-process or external); physical ECUs are Secondaries")
			}
		case Secondary:
			if e.Profile == "" {
				e.Profile = Full
			}
			if !oneOf(e.Profile, Full, Partial) {
				return r.Errorf(f+".profile", "%q is not one of full, partial", e.Profile)
			}
			if !busNames[e.Bus] {
				if e.Bus == "" {
					return r.Errorf(f+".bus", "missing: the bus this Secondary is on")
				}
				return r.Errorf(f+".bus", "no bus named %q in buses:", e.Bus)
			}
			if len(e.Buses) > 0 {
				return r.Errorf(f+".buses", "a Secondary is on one bus: use bus:")
			}
			bus := r.Bus(e.Bus)
			if e.ISOTP.FD && !bus.FD {
				return r.Errorf(f+".isotp.fd", "bus %q is not a CAN FD bus", e.Bus)
			}
			if e.ISOTP.Request == 0 && e.ISOTP.Response == 0 {
				n := perBus[e.Bus]
				e.ISOTP.Request, e.ISOTP.Response = 0x7E0+n, 0x7E8+n
				if n >= 8 {
					e.ISOTP.Request, e.ISOTP.Response = 0x700+2*n, 0x701+2*n
				}
			}
			perBus[e.Bus]++
			max := uint32(0x7FF)
			if e.ISOTP.Extended {
				max = 0x1FFFFFFF
			}
			for _, x := range []struct {
				f  string
				id uint32
			}{{"request", e.ISOTP.Request}, {"response", e.ISOTP.Response}} {
				if x.id > max {
					return r.Errorf(f+".isotp."+x.f, "%#x does not fit the identifier format (max %#x)", x.id, max)
				}
				k := key{e.Bus, x.id, e.ISOTP.Extended}
				if other, dup := used[k]; dup {
					return r.Errorf(f+".isotp."+x.f, "CAN id %#x on bus %q is already used by %s", x.id, e.Bus, other)
				}
				used[k] = e.ID
			}
			if e.ISOTP.BlockSize < 0 || e.ISOTP.BlockSize > 255 {
				return r.Errorf(f+".isotp.block_size", "%d is outside 0..255", e.ISOTP.BlockSize)
			}
			if e.ISOTP.STmin < 0 || e.ISOTP.STmin > 127*time.Millisecond {
				return r.Errorf(f+".isotp.stmin", "%s is outside 0..127ms", e.ISOTP.STmin)
			}
		default:
			return r.Errorf(f+".role", "%q is not one of primary, secondary", e.Role)
		}
	}
	if primaries != 1 {
		return r.Errorf("ecus", "a vehicle has exactly one Primary here; found %d", primaries)
	}
	if err := r.validateDUT(); err != nil {
		return err
	}
	if len(r.ECUs) < 2 {
		return r.Errorf("ecus", "a rig needs at least one Secondary")
	}
	p := r.Primary()
	for _, s := range r.Secondaries() {
		if s.Protocol == AktualizrIP && s.Bus == "" {
			continue // over TCP
		}
		reach := false
		for _, b := range p.Buses {
			reach = reach || b == s.Bus
		}
		if !reach {
			return r.Errorf("ecus", "the Primary %s is not on bus %q of Secondary %s", p.ID, s.Bus, s.ID)
		}
	}
	return nil
}

func (r *Rig) validatePower(f string, e *ECU) error {
	p := e.Power
	if p == nil {
		return nil
	}
	if e.Role != Secondary {
		return r.Errorf(f+".power", "only a Secondary's power can be switched (the Primary is the harness's own)")
	}
	if strings.TrimSpace(p.Off) == "" {
		return r.Errorf(f+".power.off", "missing: the shell command that cuts %s's power", e.ID)
	}
	if strings.TrimSpace(p.On) == "" {
		return r.Errorf(f+".power.on", "missing: the shell command that restores %s's power", e.ID)
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPowerTimeout
	}
	if p.Timeout < 0 || p.Timeout > MaxPowerTimeout {
		return r.Errorf(f+".power.timeout", "%s is outside 0..%s", p.Timeout, MaxPowerTimeout)
	}
	if len(p.CutAt) == 0 {
		p.CutAt = append([]PowerPoint(nil), PowerPoints...)
	}
	seen := map[PowerPoint]bool{}
	for i, c := range p.CutAt {
		ff := fmt.Sprintf("%s.power.cut_at[%d]", f, i)
		known := false
		for _, pt := range PowerPoints {
			known = known || pt == c
		}
		if !known {
			names := make([]string, len(PowerPoints))
			for j, pt := range PowerPoints {
				names[j] = string(pt)
			}
			return r.Errorf(ff, "%q is not one of %s", c, strings.Join(names, ", "))
		}
		if seen[c] {
			return r.Errorf(ff, "%q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

// validateDUT checks the ECU marked dut: true: one Secondary the harness
// does not run, reached over a SocketCAN bus.
func (r *Rig) validateDUT() error {
	var first string
	for i := range r.ECUs {
		e := &r.ECUs[i]
		if !e.DUT {
			continue
		}
		f := fmt.Sprintf("ecus[%d].dut", i)
		if first != "" {
			return r.Errorf(f, "%s is marked as the device under test already; a rig has one", first)
		}
		first = e.ID
		if e.Role != Secondary {
			return r.Errorf(f, "the device under test is a Secondary; %s is the Primary, which the harness plays", e.ID)
		}
		if e.Process != External && e.Process != Physical {
			return r.Errorf(f, "the device under test is a Secondary the harness does not run: give %s process: external or physical", e.ID)
		}
		b := r.Bus(e.Bus)
		if b == nil {
			return r.Errorf(f, "the device under test is reached over a SocketCAN bus; %s is on no bus", e.ID)
		}
		if b.Kind != SocketCAN {
			return r.Errorf(f, "the device under test is reached over a SocketCAN bus; %s is on bus %q (%s)", e.ID, b.Name, b.Kind)
		}
	}
	return nil
}
