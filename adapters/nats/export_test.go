package nats_test

import (
	"bufio"
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/events"
)

// TestExportRoundTrip: every line of an export reads back as the stored
// message, byte for byte (body, subject, sequence, time, headers), bodies
// that are not one-line JSON included; exports continued with AfterSeq or
// started at a time cover exactly the rest.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := testContext(t)
	evs := manyUsers(rand.New(rand.NewPCG(3, 3)), 10, 40)
	for i, ev := range evs[:20] { // through the event store: CloudEvents headers and Nats-Msg-Id
		ev.CommandID = "c-store-" + string(rune('a'+i))
		if _, err := e.store.Append(ctx, ev.UserID, mustLastSeq(t, e, ev.UserID), []events.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	odd := [][]byte{[]byte("{oops"), []byte("{\n  \"pretty\": true\n}"), {0xff, 0x00, '\n'}}
	for _, b := range odd {
		if _, err := e.js.Publish(ctx, events.EventSubjectPrefix+"u-odd.UserDisabled", b); err != nil {
			t.Fatal(err)
		}
	}
	natstest.PublishEvents(t, e.js, evs[20:])
	total := 20 + len(odd) + 20

	l := natsadapter.NewAuditLog(e.js, natsadapter.AuditConfig{})
	var out bytes.Buffer
	n, last, err := l.Export(ctx, &out, natsadapter.ExportQuery{})
	if err != nil || n != total || last != uint64(total) {
		t.Fatalf("Export = %d lines, last %d, %v; want %d", n, last, err, total)
	}
	s, err := e.js.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, out.Bytes())
	for i, line := range lines {
		stored, err := s.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		body, err := line.Body()
		if err != nil {
			t.Fatal(err)
		}
		if line.Seq != stored.Sequence || line.Subject != stored.Subject || !line.Time.Equal(stored.Time) ||
			!bytes.Equal(body, stored.Data) || !maps.EqualFunc(line.Headers, storedHeaders(stored.Header), slices.Equal) {
			t.Fatalf("line %d = %+v (body %q), want the stored %+v (body %q)", i, line, body, stored, stored.Data)
		}
		if i < 20 && (line.Headers[events.HeaderCEID] == nil || line.Headers[nats.MsgIdHdr] == nil) {
			t.Errorf("line %d lost its headers: %v", i, line.Headers)
		}
		if verbatim := i < 20 || i >= 23; verbatim != (line.DataBase64 == "") {
			t.Errorf("line %d: body verbatim = %v, want %v", i, line.DataBase64 == "", verbatim)
		}
	}

	var rest bytes.Buffer
	if n, _, err := l.Export(ctx, &rest, natsadapter.ExportQuery{AfterSeq: 30}); err != nil || n != total-30 {
		t.Fatalf("Export after 30 = %d lines, %v; want %d", n, err, total-30)
	}
	if got := readLines(t, rest.Bytes()); got[0].Seq != 31 {
		t.Errorf("Export after 30 starts at %d", got[0].Seq)
	}
	var since bytes.Buffer
	if _, _, err := l.Export(ctx, &since, natsadapter.ExportQuery{Since: lines[25].Time}); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, since.Bytes()); got[0].Time.Before(lines[25].Time) || got[len(got)-1].Seq != uint64(total) ||
		(got[0].Seq > 1 && !lines[got[0].Seq-2].Time.Before(lines[25].Time)) {
		t.Errorf("Export since %s starts at seq %d (%s)", lines[25].Time, got[0].Seq, got[0].Time)
	}
	var none bytes.Buffer
	if n, _, err := l.Export(ctx, &none, natsadapter.ExportQuery{Since: time.Now().Add(time.Hour)}); err != nil || n != 0 || none.Len() != 0 {
		t.Errorf("Export since the future = %d lines, %v", n, err)
	}
	if _, err := natsadapter.ParseExportLine([]byte(`{"seq":1,"subject":"s","time":"2026-01-01T00:00:00Z","event":{},"data_base64":"AA=="}`)); err == nil {
		t.Error("ParseExportLine with both event and data_base64: no error")
	}
}

func mustLastSeq(t *testing.T, e *env, user string) uint64 {
	t.Helper()
	seq, err := e.store.LastSeq(testContext(t), user)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func readLines(t *testing.T, b []byte) []natsadapter.ExportLine {
	t.Helper()
	var out []natsadapter.ExportLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l, err := natsadapter.ParseExportLine(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, l)
	}
	return out
}

// storedHeaders drops the headers a get adds to the message it returns.
func storedHeaders(h nats.Header) map[string][]string {
	out := maps.Clone(map[string][]string(h))
	for _, k := range []string{"Nats-Stream", "Nats-Sequence", "Nats-Subject", "Nats-Time-Stamp"} {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
