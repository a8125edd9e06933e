package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// DataServicesBucket holds the downstream services that keep user data:
// key = service name, value = projections.DataService as JSON. A service
// registers itself at startup; from then on every deleted user's erasure
// receipt lists it, pending until it records its purge.
const DataServicesBucket = "userlife_data_services"

// DataServices is the registry of data services.
type DataServices struct {
	kv jetstream.KeyValue
}

// NewDataServices binds to the provisioned bucket.
func NewDataServices(ctx context.Context, js jetstream.JetStream) (*DataServices, error) {
	kv, err := js.KeyValue(ctx, DataServicesBucket)
	if err != nil {
		return nil, fmt.Errorf("data services bucket %s: %w", DataServicesBucket, err)
	}
	return &DataServices{kv: kv}, nil
}

// Register records svc (Service is required; RegisteredAt defaults to now).
// Registering again updates the description and keeps the first
// registered_at.
func (d *DataServices) Register(ctx context.Context, svc projections.DataService) (projections.DataService, error) {
	if !events.ValidID(svc.Service) {
		return svc, fmt.Errorf("register data service: name %q must be 1-64 characters of [A-Za-z0-9_-]", svc.Service)
	}
	if svc.RegisteredAt.IsZero() {
		svc.RegisteredAt = time.Now()
	}
	svc.RegisteredAt = svc.RegisteredAt.UTC()
	for {
		b, err := json.Marshal(svc)
		if err != nil {
			return svc, err
		}
		_, err = d.kv.Create(ctx, svc.Service, b)
		if err == nil {
			return svc, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return svc, fmt.Errorf("register data service %s: %w", svc.Service, err)
		}
		cur, err := d.kv.Get(ctx, svc.Service)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deregistered meanwhile
		}
		if err != nil {
			return svc, fmt.Errorf("register data service %s: %w", svc.Service, err)
		}
		var old projections.DataService
		if json.Unmarshal(cur.Value(), &old) == nil && !old.RegisteredAt.IsZero() {
			svc.RegisteredAt = old.RegisteredAt
		}
		if b, err = json.Marshal(svc); err != nil {
			return svc, err
		}
		if _, err = d.kv.Update(ctx, svc.Service, b, cur.Revision()); err == nil {
			return svc, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return svc, fmt.Errorf("register data service %s: %w", svc.Service, err)
		}
		// Registered concurrently by another instance: read it again.
	}
}

// Deregister removes a service: deleted users' receipts stop waiting for it
// (receipts it gave stay).
func (d *DataServices) Deregister(ctx context.Context, service string) error {
	if !events.ValidID(service) {
		return fmt.Errorf("deregister data service: name %q must be 1-64 characters of [A-Za-z0-9_-]", service)
	}
	cur, err := d.kv.Get(ctx, service)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("deregister data service: no data service %s is registered", service)
	}
	if err != nil {
		return fmt.Errorf("deregister data service %s: %w", service, err)
	}
	if err := d.kv.Delete(ctx, service, jetstream.LastRevision(cur.Revision())); err != nil {
		return fmt.Errorf("deregister data service %s: %w", service, err)
	}
	return nil
}

// List returns the registered services, by name.
func (d *DataServices) List(ctx context.Context) ([]projections.DataService, error) {
	keys, err := d.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list data services: %w", err)
	}
	defer func() { _ = keys.Stop() }()
	out := []projections.DataService{}
	seen := map[string]bool{}
	for k := range keys.Keys() {
		if seen[k] {
			continue // a key written during the listing is reported twice
		}
		seen[k] = true
		e, err := d.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("data service %s: %w", k, err)
		}
		var svc projections.DataService
		if err := json.Unmarshal(e.Value(), &svc); err != nil || svc.Service == "" {
			// A hand-written value: the key still names a registered service.
			svc = projections.DataService{Service: k, RegisteredAt: e.Created().UTC()}
		}
		svc.Service = k
		out = append(out, svc)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list data services: %w", err)
	}
	slices.SortFunc(out, func(a, b projections.DataService) int { return strings.Compare(a.Service, b.Service) })
	return out, nil
}

// Erasures reads erasure receipts: a deleted user's events straight from
// the event stream and the services registered now. It needs no
// projection, so it is as fresh as the stream.
type Erasures struct {
	events   *EventStore
	services *DataServices
}

// NewErasures binds to the provisioned stream and bucket.
func NewErasures(ctx context.Context, js jetstream.JetStream) (*Erasures, error) {
	es, err := NewEventStore(ctx, js)
	if err != nil {
		return nil, err
	}
	ds, err := NewDataServices(ctx, js)
	if err != nil {
		return nil, err
	}
	return &Erasures{events: es, services: ds}, nil
}

// Services is the registry the receipts are read against.
func (e *Erasures) Services() *DataServices { return e.services }

// Receipt returns userID's erasure receipt; projections.ErrNotFound for an
// unknown user, projections.ErrNotDeleted for a live one.
func (e *Erasures) Receipt(ctx context.Context, userID string) (projections.ErasureReceipt, error) {
	if !events.ValidID(userID) {
		return projections.ErasureReceipt{}, fmt.Errorf("invalid user id %q: 1-64 characters of [A-Za-z0-9_-]", userID)
	}
	evs, err := e.events.Load(ctx, userID)
	if err != nil {
		return projections.ErasureReceipt{}, err
	}
	svcs, err := e.services.List(ctx)
	if err != nil {
		return projections.ErasureReceipt{}, err
	}
	return projections.Erasure(userID, evs, svcs)
}
