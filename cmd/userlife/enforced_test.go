package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/userlife/userlife/adapters/nats/natstest"
)

func TestWaitEnforced(t *testing.T) {
	t.Parallel()
	srv := natstest.Server(t)
	nc, _ := natstest.Connect(t, srv.ClientURL())
	var revA, revB atomic.Uint64
	revA.Store(5)
	revB.Store(9)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			for id, rev := range map[string]*atomic.Uint64{"gw-a": &revA, "gw-b": &revB} {
				b, _ := json.Marshal(gatewayBeat{ID: id, Revision: rev.Load(), Ready: true, At: time.Now()})
				_ = nc.Publish(GatewaySubjectPrefix+id, b)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	go func() {
		time.Sleep(100 * time.Millisecond)
		revA.Store(10)
		revB.Store(10)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := waitEnforced(ctx, nc, 10, time.Now(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Gateways, ",") != "gw-a,gw-b" {
		t.Errorf("gateways %v, want gw-a and gw-b", got.Gateways)
	}

	// A gateway that never catches up makes the wait fail with its name.
	short, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if _, err := waitEnforced(short, nc, 99, time.Now(), time.Second); err == nil || !strings.Contains(err.Error(), "gw-a at 10") {
		t.Errorf("waiting for revision 99: err %v, want it to name gw-a at 10", err)
	}
}

func TestWaitEnforcedWithoutGateways(t *testing.T) {
	t.Parallel()
	srv := natstest.Server(t)
	nc, _ := natstest.Connect(t, srv.ClientURL())
	_, err := waitEnforced(context.Background(), nc, 1, time.Now(), 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "no gateway reported") {
		t.Errorf("err %v, want no gateway reported", err)
	}
}
