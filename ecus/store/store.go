// Package store is an ECU's persistent state: trusted metadata, two image
// slots (A/B), counters, nonces and detected attacks. Every change is made
// durable atomically (write a temporary file, fsync, rename, fsync the
// directory), and the active slot is switched only by the atomic rewrite of
// the state file, after the new image is durable in the other slot. So an
// ECU killed at any instant — mid-transfer, mid-install — boots the old or
// the new image, never a mix, and can update again.
//
// Power loss is simulated with crash points: every durable step calls the
// store's CrashFunc with a name; a test's CrashFunc panics with Crash at a
// seeded point, which unwinds the ECU as a power cut would. The ECU code
// above the store (ecus/secondary) passes further points where a cut can
// land without a durable step (a TransferData block, an image verification)
// through the same CrashFunc (Store.Crash).
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Crash is the panic value a CrashFunc uses to simulate a power cut.
type Crash struct{ Point string }

func (c Crash) Error() string { return "store: simulated power loss at " + c.Point }

// CrashFunc is called before and after every durable step (and at the
// points Store.Crash is called for). It may panic with Crash to simulate
// power loss at that point; whoever runs the ECU recovers the panic and
// treats the ECU as unpowered (secondary.Direct, secondary.Node).
type CrashFunc func(point string)

// Slot names.
const (
	SlotA = "a"
	SlotB = "b"
)

// Image describes an installed image: the non-custom Targets metadata the
// version report carries, plus the release counter.
type Image struct {
	Name           string          `json:"name"`
	Length         int64           `json:"length"`
	Hashes         metadata.Hashes `json:"hashes"`
	ReleaseCounter uint64          `json:"releaseCounter"`
}

// AttackRecord is a detected attack, kept until reported.
type AttackRecord struct {
	Check  check.ID     `json:"check"`
	Attack check.Attack `json:"attack"`
	Detail string       `json:"detail"`
	At     time.Time    `json:"at"`
	// Reported is set once a version report carried the record; it is
	// dropped when the next cycle's nonce arrives.
	Reported bool `json:"reported,omitempty"`
}

// State is the small, atomically rewritten state file.
type State struct {
	ECU           string            `json:"ecu"`
	Active        string            `json:"active"` // SlotA or SlotB
	Slots         map[string]*Image `json:"slots"`
	ReportCounter uint64            `json:"reportCounter"`
	Nonce         []byte            `json:"nonce,omitempty"`      // written by the Primary this cycle
	LatestTime    time.Time         `json:"latestTime,omitempty"` // latest attested time
	// TimeNonce is the nonce the ECU made for its next time attestation
	// (verify.VerifyTime); a new one after every attestation taken.
	TimeNonce []byte         `json:"timeNonce,omitempty"`
	Attacks   []AttackRecord `json:"attacks,omitempty"`
	Boots     uint64         `json:"boots"`
}

// Installed returns the image in the active slot.
func (s *State) Installed() *Image { return s.Slots[s.Active] }

// Inactive returns the slot an update is written to.
func (s *State) Inactive() string {
	if s.Active == SlotA {
		return SlotB
	}
	return SlotA
}

// Store is one ECU's state directory.
type Store struct {
	dir   string
	crash CrashFunc
	// torn: a CrashFunc was given, so a write leaves a half-written
	// temporary file behind at its ":torn" point, as a cut mid-write would.
	torn bool
	// inPlace: a single-bank ECU without the A/B defence (OpenInPlace).
	inPlace bool
	mu      sync.Mutex
	st      State
}

const (
	stateFile = "state.json"
	maxState  = 1 << 20
)

// Open opens (or creates, for ecu) the state directory. It removes temporary
// files a power cut left behind, and checks that the active slot holds the
// image the state says; if it does not (a slot file damaged outside our
// control), it falls back to the other slot when that one is whole.
func Open(dir, ecu string, crash CrashFunc) (*Store, error) {
	return open(dir, ecu, crash, false)
}

// OpenInPlace opens the state directory of an ECU without the defence
// check.InstallImageAtomic (a control profile's ECU, or one switched off
// with --without): a single-bank ECU. It programs its one image area (the
// active slot) in place — the blocks of an image as they arrive
// (ProgramBlock) and the whole image at Install — rewrites its state file
// in place (truncate and write), and boots whatever its image area holds,
// whole or not. A power cut in the middle of any of these leaves a mix of
// old and new bytes: the failure the A/B slots of Open prevent.
func OpenInPlace(dir, ecu string, crash CrashFunc) (*Store, error) {
	return open(dir, ecu, crash, true)
}

func open(dir, ecu string, crash CrashFunc, inPlace bool) (*Store, error) {
	torn := crash != nil
	if crash == nil {
		crash = func(string) {}
	}
	if err := os.MkdirAll(filepath.Join(dir, "meta"), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	s := &Store{dir: dir, crash: crash, torn: torn, inPlace: inPlace}
	if err := s.removeTemps(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.st = State{ECU: ecu, Active: SlotA, Slots: map[string]*Image{}}
		if err := s.saveLocked(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", dir, err)
	default:
		if len(data) > maxState {
			return nil, fmt.Errorf("store %s: state file is %d bytes (limit %d)", dir, len(data), maxState)
		}
		if err := json.Unmarshal(data, &s.st); err != nil {
			return nil, fmt.Errorf("store %s: state file: %v", dir, err)
		}
		if s.st.ECU != ecu {
			return nil, fmt.Errorf("store %s: holds the state of ECU %q, not %q", dir, s.st.ECU, ecu)
		}
		if s.st.Slots == nil {
			s.st.Slots = map[string]*Image{}
		}
		if s.st.Active != SlotA && s.st.Active != SlotB {
			return nil, fmt.Errorf("store %s: active slot %q is not a or b", dir, s.st.Active)
		}
	}
	if inPlace {
		return s, nil // boots whatever the image area holds
	}
	if err := s.checkActive(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) removeTemps() error {
	return filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			return os.Remove(p)
		}
		return nil
	})
}

func (s *Store) checkActive() error {
	img := s.st.Slots[s.st.Active]
	if img == nil {
		return nil
	}
	if s.slotWhole(s.st.Active, img) {
		return nil
	}
	other := s.st.Inactive()
	if o := s.st.Slots[other]; o != nil && s.slotWhole(other, o) {
		s.st.Active = other
		return s.saveLocked()
	}
	return fmt.Errorf("store %s: neither image slot holds a whole image", s.dir)
}

func (s *Store) slotWhole(slot string, img *Image) bool {
	data, err := os.ReadFile(s.slotPath(slot))
	return err == nil && meta.CheckHashes(data, img.Length, img.Hashes) == nil
}

func (s *Store) slotPath(slot string) string { return filepath.Join(s.dir, "slot-"+slot+".bin") }

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// State returns a copy of the current state.
func (s *Store) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copyLocked()
}

func (s *Store) copyLocked() State {
	c := s.st
	c.Slots = map[string]*Image{}
	for k, v := range s.st.Slots {
		if v != nil {
			img := *v
			c.Slots[k] = &img
		}
	}
	c.Nonce = append([]byte(nil), s.st.Nonce...)
	c.TimeNonce = append([]byte(nil), s.st.TimeNonce...)
	c.Attacks = append([]AttackRecord(nil), s.st.Attacks...)
	return c
}

// Update applies fn to a copy of the state and makes the result durable; on
// error nothing changes.
func (s *Store) Update(point string, fn func(*State) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.copyLocked()
	if err := fn(&c); err != nil {
		return err
	}
	old := s.st
	s.st = c
	if err := s.saveNamedLocked(point); err != nil {
		s.st = old
		return err
	}
	return nil
}

func (s *Store) saveLocked() error { return s.saveNamedLocked("state") }

func (s *Store) saveNamedLocked(point string) error {
	data, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return s.write(point, filepath.Join(s.dir, stateFile), data, 0o600)
}

// Crash passes a crash point that is no durable step of the store: a place
// in the ECU's work where a power cut can land (docs/pouf.md, "Power loss").
func (s *Store) Crash(point string) { s.crash(point) }

// write is atomicfile.Write with crash points before, in the middle of the
// temporary file (a torn write), and after. When crash points are armed, the
// torn point really leaves half of the data in a temporary file, which the
// next Open must remove.
func (s *Store) write(point, path string, data []byte, perm os.FileMode) error {
	s.crash(point + ":before")
	if s.inPlace {
		return s.writeInPlace(point, path, data, perm)
	}
	if s.torn {
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-torn")
		if err := os.WriteFile(tmp, data[:len(data)/2], perm); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
		s.crash(point + ":torn")
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	} else {
		s.crash(point + ":torn")
	}
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.crash(point + ":after")
	return nil
}

// writeInPlace is write for a store without the A/B defence: the file is
// truncated and rewritten where it is, so a cut at the ":torn" point
// leaves half of the new data in it.
func (s *Store) writeInPlace(point, path string, data []byte, perm os.FileMode) error {
	half := len(data) / 2
	if err := os.WriteFile(path, data[:half], perm); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.crash(point + ":torn")
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.crash(point + ":after")
	return nil
}

// Page is how many bytes of an image slot are programmed at a time: a
// power cut can land between two pages ("install:slot-X:page@OFFSET").
const Page = 1024

// Install makes img (with its bytes) the active image: the bytes go to the
// inactive slot first, durably, then the state file switches slots
// atomically ({#install_image}). A store opened in place (OpenInPlace)
// programs the active slot where it is and then records the new image.
func (s *Store) Install(img Image, data []byte) error {
	if err := meta.CheckHashes(data, img.Length, img.Hashes); err != nil {
		return fmt.Errorf("store %s: install %s: %w", s.dir, img.Name, err)
	}
	s.mu.Lock()
	slot := s.st.Inactive()
	if s.inPlace {
		slot = s.st.Active
	}
	s.mu.Unlock()
	if err := s.writeSlot(slot, data); err != nil {
		return err
	}
	return s.Update("install:switch", func(st *State) error {
		st.Slots[slot] = &img
		st.Active = slot
		return nil
	})
}

// writeSlot programs an image slot page by page, with a crash point
// between two pages. With the A/B defence the pages go to a temporary file
// that replaces the slot (fsync, rename, fsync of the directory) once
// whole, so a cut leaves the slot as it was; in place they overwrite the
// slot itself.
func (s *Store) writeSlot(slot string, data []byte) error {
	point := "install:slot-" + slot
	s.crash(point + ":before")
	path := s.slotPath(slot)
	target := path
	if !s.inPlace {
		target = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-install")
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	defer f.Close()
	if !s.inPlace {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	}
	for off := 0; off < len(data); off += Page {
		if off > 0 {
			s.crash(fmt.Sprintf("%s:page@%d", point, off))
		}
		if _, err := f.WriteAt(data[off:min(off+Page, len(data))], int64(off)); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if !s.inPlace {
		if err := os.Rename(target, path); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.crash(point + ":after")
	return nil
}

// ProgramBlock is a single-bank ECU's programming of an image block as it
// arrives over the bus: in a store opened in place, p is written into the
// active slot at off; with the A/B defence (Open) it does nothing (the
// image is kept until it is whole and verified, then installed beside the
// running one).
func (s *Store) ProgramBlock(off int64, p []byte) error {
	if !s.inPlace {
		return nil
	}
	s.mu.Lock()
	path := s.slotPath(s.st.Active)
	s.mu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return nil
}

// InPlace reports whether the store was opened without the A/B defence
// (OpenInPlace).
func (s *Store) InPlace() bool { return s.inPlace }

// ActiveWhole reports whether the active slot holds exactly the image the
// state names (its length and hashes): what a power-loss check reads after
// the power comes back.
func (s *Store) ActiveWhole() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	img := s.st.Slots[s.st.Active]
	return img != nil && s.slotWhole(s.st.Active, img)
}

// ReadActive returns the bytes of the active image.
func (s *Store) ReadActive() (*Image, []byte, error) {
	s.mu.Lock()
	img := s.st.Slots[s.st.Active]
	slot := s.st.Active
	s.mu.Unlock()
	if img == nil {
		return nil, nil, fmt.Errorf("store %s: no image installed", s.dir)
	}
	data, err := os.ReadFile(s.slotPath(slot))
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	c := *img
	return &c, data, nil
}

// metaPath maps a metadata file name ("director/5.targets.json") into the
// store, refusing anything that could leave it.
func (s *Store) metaPath(name string) (string, error) {
	clean := filepath.Clean(name)
	if clean != name || strings.HasPrefix(clean, "..") || filepath.IsAbs(clean) || strings.Contains(clean, "\\") {
		return "", fmt.Errorf("store %s: metadata name %q is not a clean relative path", s.dir, name)
	}
	return filepath.Join(s.dir, "meta", clean), nil
}

// PutMeta stores a metadata file durably under name (e.g. "director/root.json").
func (s *Store) PutMeta(name string, data []byte) error {
	p, err := s.metaPath(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return s.write("meta:"+name, p, data, 0o600)
}

// Marshaler is a repository's trusted state as verification keeps it
// (uptane/verify.Repo).
type Marshaler interface{ Marshal() ([]byte, error) }

// TrustedName is the metadata file that holds repo's trusted state
// ("trusted/director.json", "trusted/image.json"), for the Primary and the
// Secondaries alike.
func TrustedName(repo string) string { return "trusted/" + repo + ".json" }

// PutTrusted persists repo's trusted state, atomically like PutMeta.
func (s *Store) PutTrusted(repo string, r Marshaler) error {
	b, err := r.Marshal()
	if err != nil {
		return fmt.Errorf("store %s: trusted %s metadata: %w", s.dir, repo, err)
	}
	return s.PutMeta(TrustedName(repo), b)
}

// Trusted reads repo's trusted state; the error says the ECU may not have
// been provisioned.
func (s *Store) Trusted(repo string) ([]byte, error) {
	b, err := s.GetMeta(TrustedName(repo))
	if err != nil {
		return nil, fmt.Errorf("trusted metadata %s: %w (was the ECU provisioned?)", TrustedName(repo), err)
	}
	return b, nil
}

// GetMeta reads a metadata file; os.ErrNotExist when absent.
func (s *Store) GetMeta(name string) ([]byte, error) {
	p, err := s.metaPath(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// DeleteMeta removes a metadata file (absent is fine).
func (s *Store) DeleteMeta(name string) error {
	p, err := s.metaPath(name)
	if err != nil {
		return err
	}
	s.crash("meta-delete:" + name + ":before")
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

// ListMeta lists the metadata files under a prefix directory ("director").
func (s *Store) ListMeta(prefix string) ([]string, error) {
	p, err := s.metaPath(prefix)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, prefix+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// StageFile is where a file received over the bus is assembled before it is
// verified: "staging/<name>". Partial contents survive a reset so a transfer
// can resume at Len().
type StageFile struct {
	s    *Store
	path string
	f    *os.File
}

// Stage opens (or reopens, for resumption) the staging file for name.
func (s *Store) Stage(name string) (*StageFile, error) {
	safe := strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(name)
	dir := filepath.Join(s.dir, "staging")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	p := filepath.Join(dir, safe)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.dir, err)
	}
	return &StageFile{s: s, path: p, f: f}, nil
}

// Len is how many bytes are staged.
func (sf *StageFile) Len() (int64, error) {
	st, err := sf.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// WriteAt writes a block at off (blocks past the staged end are refused).
func (sf *StageFile) WriteAt(p []byte, off int64) error {
	n, err := sf.Len()
	if err != nil {
		return err
	}
	if off > n {
		return fmt.Errorf("store: staging %s: block at %d leaves a gap after %d bytes", filepath.Base(sf.path), off, n)
	}
	sf.s.crash("stage:write")
	_, err = sf.f.WriteAt(p, off)
	return err
}

// Truncate cuts the staged data to n bytes (restart or resume point).
func (sf *StageFile) Truncate(n int64) error { return sf.f.Truncate(n) }

// Bytes returns the staged data after an fsync.
func (sf *StageFile) Bytes() ([]byte, error) {
	if err := sf.f.Sync(); err != nil {
		return nil, err
	}
	return os.ReadFile(sf.path)
}

// Close closes the file; Remove deletes it.
func (sf *StageFile) Close() error { return sf.f.Close() }

// Remove deletes the staged file.
func (sf *StageFile) Remove() error {
	sf.f.Close()
	err := os.Remove(sf.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
