package watermill

import (
	"context"
	"errors"
)

// runState is where an intake is in its one life: New, Run, Close.
type runState int

const (
	stateNew runState = iota
	stateRunning
	stateClosed
)

// Run consumes until ctx ends or Close is called; either way the commands
// in flight are finished first. An intake runs once.
func (in *Intake) Run(ctx context.Context) error {
	in.mu.Lock()
	if in.state != stateNew {
		in.mu.Unlock()
		return errors.New("command intake: already running or closed")
	}
	if err := in.unknown.start(); err != nil {
		in.mu.Unlock()
		return err
	}
	in.state = stateRunning
	in.mu.Unlock()
	defer in.unknown.stop()
	return in.router.Run(ctx)
}

// Running is closed once every subscription is up.
func (in *Intake) Running() chan struct{} { return in.router.Running() }

// Close stops taking commands, waits for those in flight to be acked (up to
// CloseTimeout) and closes the connections. Commands not yet acked stay in
// the queue and are delivered again. Calling it again does nothing.
func (in *Intake) Close() error {
	in.mu.Lock()
	prev := in.state
	in.state = stateClosed
	in.mu.Unlock()
	switch prev {
	case stateClosed:
		return nil
	case stateNew:
		// The router never ran: it would wait CloseTimeout for handlers
		// that never started.
		return in.closeConnections()
	}
	in.unknown.stop()
	err := in.router.Close()
	return errors.Join(err, in.poison.Close())
}

// closeConnections closes what New opened, for an intake that never ran.
func (in *Intake) closeConnections() error {
	var err error
	for _, s := range in.subs {
		err = errors.Join(err, s.Close())
	}
	if in.poison != nil {
		err = errors.Join(err, in.poison.Close())
	}
	return err
}
