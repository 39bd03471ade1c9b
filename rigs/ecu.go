package rigs

import (
	"fmt"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

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
	// suite is played against (uptane-hil run; the same as run --dut ID).
	// At most one per rig.
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
	// PreconditionsWait (Primary only) bounds how long, in one update
	// cycle, the Primary waits for a Secondary that refuses to be programmed
	// for its preconditions before it leaves that ECU to the next cycle
	// (default 2 min; primary.Config.ConditionsWait).
	PreconditionsWait time.Duration `yaml:"preconditions_wait"`
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
	// Stack is which ISO-TP implementation the ends of this link that
	// uptane-hil runs use (the Primary's, and the Secondary's when it is
	// one of ours): StackOwn (default, sim/isotp) or StackKernel (the
	// Linux kernel's can-isotp sockets, sim/kisotp: STmin and the N_*
	// timers then live in the kernel). The kernel's needs a SocketCAN bus.
	Stack string `yaml:"stack"`
}

// The ISO-TP stacks of a link.
const (
	// StackOwn is uptane-hil's own ISO-TP (sim/isotp), on every bus; the
	// attacker nodes always use it.
	StackOwn = "uptane-hil"
	// StackKernel is the Linux kernel's can-isotp (CAN_ISOTP sockets), on
	// SocketCAN buses only.
	StackKernel = "kernel"
)

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
			if e.ISOTP.Stack == "" {
				e.ISOTP.Stack = StackOwn
			}
			switch {
			case !oneOf(e.ISOTP.Stack, StackOwn, StackKernel):
				return r.Errorf(f+".isotp.stack", "%q is not one of %s, %s", e.ISOTP.Stack, StackOwn, StackKernel)
			case e.ISOTP.Stack == StackKernel && bus.Kind != SocketCAN:
				return r.Errorf(f+".isotp.stack", "the kernel's can-isotp needs a SocketCAN bus; %s is on bus %q (%s): use stack: %s there", e.ID, e.Bus, bus.Kind, StackOwn)
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
