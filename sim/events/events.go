// Package events is the one stream of what happens in a run: HTTP exchanges
// with the repositories, UDS exchanges on the bus, phases of the update
// cycle, transfer progress, attacks switched on and off. The CLI draws its
// progress from it and reports draw their message sequence diagrams from it.
package events

import (
	"sync"
	"time"
)

// Kind is the kind of an event.
type Kind string

// Kinds of events.
const (
	Phase    Kind = "phase"    // an update-cycle step started (Label names it)
	HTTP          = "http"     // Primary ↔ repository exchange
	UDS           = "uds"      // Primary ↔ Secondary exchange
	Transfer      = "transfer" // progress of a file transfer (Done/Total bytes)
	Attack        = "attack"   // an attack was switched on/off or acted
	Note          = "note"     // anything else worth a line
	Result        = "result"   // an ECU's outcome of the cycle
)

// Participants that are not ECUs.
const (
	Director = "director"
	Image    = "image"
	Attacker = "attacker"
)

// Event is one thing that happened.
type Event struct {
	Time  time.Time
	Kind  Kind
	From  string
	To    string
	ECU   string // the ECU concerned, if any
	Label string
	Done  int64
	Total int64
	Err   string // a failure, with the check ID first when it is a check
	Bus   string
}

// Sink receives events. It must not block.
type Sink func(Event)

// Fan returns a sink that hands each event to every non-nil sink.
func Fan(sinks ...Sink) Sink {
	return func(e Event) {
		for _, s := range sinks {
			if s != nil {
				s(e)
			}
		}
	}
}

// Log is a Sink that keeps every event.
type Log struct {
	mu sync.Mutex
	ev []Event
}

// Sink returns the log's sink.
func (l *Log) Sink() Sink {
	return func(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }
}

// Events returns a copy of what was logged.
func (l *Log) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}
