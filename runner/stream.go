package runner

import (
	"sync"
	"time"

	"github.com/rtmpload/rtmpload/publisher"
	"github.com/rtmpload/rtmpload/report"
	"github.com/rtmpload/rtmpload/schema"
)

// event is one thing that happened in a run: every attempt phase, hook
// call, wire connection, callback state, server view and server event goes
// to the run's stream as one of these, and the stream hands it to every
// sink in turn (vegeta's one results channel, fanned out by its caller).
// The embedded schema.Event is what results.jsonl keeps; the other fields
// are for the live sinks only and are never written.
type event struct {
	schema.Event // Type "": a live-only event

	attempt  string              // the attempt of progress and onStatus
	progress *publisher.Progress // one -progress block of the attempt's ffmpeg
	onStatus *schema.WireConn    // the server answered the attempt's publish (tap), before its connection ends
	tick     *tick               // a second passed
	judge    *judgement          // a capacity step is due

	exit *exitFacts // set by the stream on an exit event
}

// tick is the stall checker's second: publishers whose output stopped with
// no -progress block at all are found here; rtmpload's own CPU rides along.
type tick struct {
	at      time.Time
	selfCPU time.Duration
}

// exitFacts is what the stream knew of an attempt when its ffmpeg exited.
type exitFacts struct {
	// end is report.Ended of what was known at exit: the one classification
	// progress, Prometheus and the capacity stop rules count.
	end        string
	progressed bool // its publishing phase came: the publishing gauges counted it
	starved    bool // it was below real time when it ended
}

// sink consumes the run's events. The stream calls add from one goroutine,
// in order, so a sink needs no lock of its own for the stream's sake.
type sink interface{ add(e event) }

// sinkFunc makes a function a sink.
type sinkFunc func(e event)

func (f sinkFunc) add(e event) { f(e) }

// stream fans the run's events out to its sinks. Producers call emit from
// any goroutine; sinks may derive new events (starved, a capacity step)
// with derive, delivered right after the one being handled.
type stream struct {
	ch chan event

	mu      sync.RWMutex // emit holds it for reading while it sends; close for writing
	closed  bool
	started bool
	done    chan struct{}

	sinks []sink
	queue []event               // the event being handled and those derived from it
	live  map[string]*attemptAt // attempts spawned and not exited
}

// attemptAt is what the stream knows of a running attempt.
type attemptAt struct {
	progressed, wirePublished, starved bool
}

func newStream() *stream {
	return &stream{ch: make(chan event, 1024), done: make(chan struct{}), live: make(map[string]*attemptAt)}
}

// emit sends e to the sinks. Events sent before run wait in the stream;
// events after close are dropped (a late callback of a closing server).
func (s *stream) emit(e event) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		s.ch <- e
	}
}

// write emits one event of the results.
func (s *stream) write(ev schema.Event) { s.emit(event{Event: ev}) }

// run starts handing events to sinks, in that order.
func (s *stream) run(sinks ...sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started, s.sinks = true, sinks
	go func() {
		defer close(s.done)
		for e := range s.ch {
			s.deliver(e)
		}
	}()
}

// close stops the stream once every event sent so far is delivered. A
// stream that never ran drops what it holds.
func (s *stream) close() {
	s.run()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
	<-s.done
}

// derive queues an event made by a sink while it handles another; only
// sinks call it, from the stream's goroutine.
func (s *stream) derive(e event) { s.queue = append(s.queue, e) }

func (s *stream) deliver(e event) {
	s.queue = append(s.queue[:0], e)
	for i := 0; i < len(s.queue); i++ {
		e := s.queue[i]
		s.note(&e)
		for _, k := range s.sinks {
			k.add(e)
		}
	}
	s.queue = s.queue[:0]
}

// note keeps what the stream knows of running attempts, and classifies an
// exit with it, once for every sink.
func (s *stream) note(e *event) {
	if e.onStatus != nil {
		if a := s.live[e.attempt]; a != nil {
			if _, ok := e.onStatus.PublishStarted(); ok {
				a.wirePublished = true
			}
		}
	}
	ae := e.Attempt
	if e.Type != schema.TypeAttempt || ae == nil {
		return
	}
	a := s.live[ae.ID]
	if a == nil {
		a = &attemptAt{}
		s.live[ae.ID] = a
	}
	switch ae.Phase {
	case schema.PhasePublishing:
		a.progressed = true
	case schema.PhaseStarved:
		a.starved = true
	case schema.PhaseRecovered:
		a.starved = false
	case schema.PhaseExit:
		delete(s.live, ae.ID)
		published := a.progressed || a.wirePublished
		e.exit = &exitFacts{end: report.Ended(published, ae.Class, ae.Stopped), progressed: a.progressed, starved: a.starved}
	}
}
