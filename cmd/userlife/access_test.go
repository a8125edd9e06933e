package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	httpadapter "github.com/userlife/userlife/adapters/http"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections/revocation"
)

// cliAs runs the userlife binary with role's credentials and returns its
// combined output; it fails the test when the command does not exit 0.
func cliAs(t *testing.T, s *securedNATS, role string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append(args, s.args(t, role)...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("userlife %s as %s: %v\n%s", strings.Join(args, " "), role, err, out)
	}
	return string(out)
}

// expectDenied fails unless the server refused what err came from: a
// permissions violation either returned (a subscription, a request nats.go
// matches to it) or reported on errs while the request timed out (a
// JetStream publish).
func expectDenied(t *testing.T, what string, err error, errs <-chan error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want a permissions violation", what)
	}
	if isViolation(err) {
		return
	}
	select {
	case aerr := <-errs:
		if !isViolation(aerr) {
			t.Fatalf("%s: %v, then %v; want a permissions violation", what, err, aerr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: %v and no permissions violation reported", what, err)
	}
}

func isViolation(err error) bool {
	return errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(err.Error(), "Permissions Violation")
}

// expectAsyncViolation waits for the server's asynchronous report of a
// denied core publish or subscription.
func expectAsyncViolation(t *testing.T, what string, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		if !isViolation(err) {
			t.Fatalf("%s: %v, want a permissions violation", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no permissions violation reported", what)
	}
}

func TestAccessControlRoles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sn := startSecuredNATS(t, nil, "")
	startServe(t, sn.args(t, "service")...)

	// The admin sends commands and reads their outcomes with the CLI.
	if out := cliAs(t, sn, "admin", "user", "register", "--email", "ann@example.com", "--id", "ann"); !strings.Contains(out, "accepted RegisterUser") {
		t.Fatalf("register: %s", out)
	}
	cliAs(t, sn, "admin", "user", "confirm", "ann")

	// A gateway cannot publish a command, through JetStream or core NATS.
	gwNC, gwErrs := sn.connect(t, "gateway")
	gwJS, err := jetstream.New(gwNC)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte(`{"command_id":"forged-by-gateway","user_id":"ann","actor":"gateway","reason":"forged"}`)
	_, err = gwJS.Publish(shortCtx(t), events.CommandSubject(events.CmdDisableUser), forged)
	expectDenied(t, "gateway js.Publish userlife.cmd.DisableUser", err, gwErrs)
	if err := gwNC.Publish(events.CommandSubject(events.CmdDeleteUser), forged); err != nil {
		t.Fatal(err)
	}
	expectAsyncViolation(t, "gateway publish userlife.cmd.DeleteUser", gwErrs)

	// An admin cannot append to the event stream, nor read it.
	adminNC, adminErrs := sn.connect(t, "admin")
	adminJS, err := jetstream.New(adminNC)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := events.Encode(events.Event{ID: "fake", Type: events.TypeUserEnabled, UserID: "ann", OccurredAt: time.Now(), Actor: "admin", CommandID: "fake-cmd", Data: events.UserEnabled{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = adminJS.Publish(shortCtx(t), events.EventSubject("ann", events.TypeUserEnabled), fake)
	expectDenied(t, "admin js.Publish to the event stream", err, adminErrs)
	if _, err := adminNC.SubscribeSync(events.EventSubjectPrefix + ">"); err != nil {
		t.Fatal(err)
	}
	expectAsyncViolation(t, "admin subscribe userlife.events.>", adminErrs)

	// The admin's own command goes through and is the one that disables
	// ann: nothing the gateway sent reached the queue.
	if out := cliAs(t, sn, "admin", "user", "disable", "ann", "--reason", "chargeback", "--command-id", "admin-disable-1"); !strings.Contains(out, "accepted DisableUser") {
		t.Fatalf("disable: %s", out)
	}
	svcNC, _ := sn.connect(t, "service")
	svcJS, err := jetstream.New(svcNC)
	if err != nil {
		t.Fatal(err)
	}
	cmdStream, err := svcJS.Stream(ctx, natsadapter.CommandStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmdStream.CachedInfo().State.LastSeq; got != 3 {
		t.Errorf("command stream took %d commands, want 3 (the admin's register, confirm, disable)", got)
	}
	results, err := natsadapter.NewResults(ctx, svcJS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := results.Get(ctx, "forged-by-gateway"); !errors.Is(err, natsadapter.ErrNoOutcome) {
		t.Errorf("outcome of the gateway's forged command: %v, want none", err)
	}

	// A gateway watches the revocation view and reports on its subject.
	beats, err := adminNC.SubscribeSync(GatewaySubjectPrefix + "gw-acl")
	if err != nil {
		t.Fatal(err)
	}
	gw := startGatewayAs(t, sn, "gw-acl")
	waitFor(t, "the gateway to apply ann's disable", func() bool { return gw.Revision() >= 3 })
	if _, err := beats.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the admin heard no gateway heartbeat: %v", err)
	}

	// Downstream reads the events through the consumer the operator made
	// for it, and can neither send commands nor make consumers of its own.
	if _, err := svcJS.CreateOrUpdateConsumer(ctx, natsadapter.EventsStream, jetstream.ConsumerConfig{
		Durable: "downstream", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	dsNC, dsErrs := sn.connect(t, "downstream")
	dsJS, err := jetstream.New(dsNC)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := dsJS.Consumer(ctx, natsadapter.EventsStream, "downstream")
	if err != nil {
		t.Fatalf("downstream binds its consumer: %v", err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for m := range batch.Messages() {
		e, err := events.Decode(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, string(e.Type))
		if err := m.Ack(); err != nil {
			t.Fatalf("downstream ack: %v", err)
		}
	}
	if want := "UserRegistered UserConfirmed UserDisabled"; strings.Join(types, " ") != want {
		t.Errorf("downstream read %v, want %s", types, want)
	}
	_, err = dsJS.Publish(shortCtx(t), events.CommandSubject(events.CmdDeleteUser), forged)
	expectDenied(t, "downstream js.Publish userlife.cmd.DeleteUser", err, dsErrs)
	_, err = dsJS.CreateOrUpdateConsumer(shortCtx(t), natsadapter.EventsStream, jetstream.ConsumerConfig{Durable: "mine"})
	expectDenied(t, "downstream creates a consumer", err, dsErrs)

	// What subject permissions cannot stop: a client allowed a JetStream
	// request picks its reply subject, and the server delivers the reply
	// there. Downstream asks for its account info with the revocation
	// view's key for ann as the reply: the server's answer lands in the
	// bucket. A gateway starting afterwards must refuse ann (fail
	// closed), not take the answer for a clean entry.
	cliAs(t, sn, "admin", "user", "revoke-sessions", "ann", "--reason", "laptop stolen")
	waitFor(t, "the view to show the revocation", func() bool { return gw.Revision() >= 4 })
	info := nats.NewMsg("$JS.API.INFO")
	info.Reply = "$KV." + natsadapter.RevocationsBucket + ".ann"
	if err := dsNC.PublishMsg(info); err != nil {
		t.Fatal(err)
	}
	kv, err := svcJS.KeyValue(ctx, natsadapter.RevocationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redirected reply to land in the view", func() bool {
		kve, err := kv.Get(ctx, "ann")
		return err == nil && strings.Contains(string(kve.Value()), "account_info_response")
	})
	late := startGatewayAs(t, sn, "gw-late")
	if r := late.checker.Check("ann", "", time.Now().Unix()); r != revocation.ReasonDisabled {
		t.Errorf("a gateway started after the forgery answers %v for ann, want %v", r, revocation.ReasonDisabled)
	}

	// The same trick lands a server reply on an event subject. The
	// service takes it for what it is, not an event: ann's commands go on,
	// and verify reports the message it could not apply.
	info = nats.NewMsg("$JS.API.INFO")
	info.Reply = events.EventSubject("ann", events.TypeUserEnabled)
	if err := adminNC.PublishMsg(info); err != nil {
		t.Fatal(err)
	}
	evStream, err := svcJS.Stream(ctx, natsadapter.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redirected reply to land in the event stream", func() bool {
		m, err := evStream.GetLastMsgForSubject(ctx, events.EventSubject("ann", events.TypeUserEnabled))
		return err == nil && strings.Contains(string(m.Data), "account_info_response")
	})
	if out := cliAs(t, sn, "admin", "user", "enable", "ann"); !strings.Contains(out, "accepted EnableUser") {
		t.Fatalf("enable after the forgery: %s", out)
	}
	// verify reads the whole stream: the admin is told to use the service
	// credentials instead of retrying a refused read.
	denied := exec.Command(binary(t), append([]string{"verify"}, sn.args(t, "admin")...)...)
	if out, err := denied.CombinedOutput(); err == nil || !strings.Contains(string(out), "run this with the service credentials") {
		t.Errorf("verify as admin: %v\n%s\nwant a refusal naming the service credentials", err, out)
	}
	if out := cliAs(t, sn, "service", "verify"); !strings.Contains(out, "OK:") {
		t.Errorf("verify after the forgery: %s", out)
	} else {
		t.Logf("verify: %s", out)
	}

	// The service, the admin's CLI and the gateway did all they had to
	// within their permissions.
	// (The admin's verify above was refused on purpose.)
	for _, who := range []string{"user:service", `go:userlife-cli"`, "userlife-gateway-gw-"} {
		var unexpected []string
		for _, v := range sn.log.of(who) {
			if !strings.Contains(v, `Subject "$JS.API.STREAM.INFO.USERLIFE_EVENTS"`) || !strings.Contains(v, "user:admin") {
				unexpected = append(unexpected, v)
			}
		}
		if len(unexpected) > 0 {
			t.Errorf("%s ran into permission violations:\n%s", who, strings.Join(unexpected, "\n"))
		}
	}
}

// startGatewayAs runs a gateway in process with the gateway role's nkey.
func startGatewayAs(t *testing.T, sn *securedNATS, id string) *Gateway {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("access-test-secret-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := readSecretFile(secret)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := httpadapter.NewHS256Verifier(key, httpadapter.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(up.Close)
	upURL, _ := url.Parse(up.URL)
	opts, err := sn.auth(t, "gateway").Options()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	gw, err := StartGateway(ctx, GatewayConfig{NATSURL: sn.URL, NATSOptions: opts, ID: id, Upstream: upURL, Verifier: verifier})
	if err != nil {
		t.Fatalf("gateway with the gateway role's nkey: %v", err)
	}
	t.Cleanup(gw.Close)
	return gw
}

// waitFor polls cond until it holds, failing after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shortCtx bounds a request the server is expected to refuse (nats.go
// then waits for a reply that never comes).
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCA makes a self-signed CA and a server certificate for 127.0.0.1
// signed by it; it returns the server's TLS config and the CA's PEM file.
func testCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "userlife test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "userlife test NATS"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
	}, caFile
}

func TestAccessControlTLS(t *testing.T) {
	t.Parallel()
	srvTLS, caFile := testCA(t)
	sn := startSecuredNATS(t, srvTLS, caFile)
	startServe(t, sn.args(t, "service")...)
	if out := cliAs(t, sn, "admin", "user", "register", "--email", "tls@example.com", "--id", "tls-user"); !strings.Contains(out, "accepted RegisterUser") {
		t.Fatalf("register over TLS: %s", out)
	}
	gw := startGatewayAs(t, sn, "gw-tls")
	waitFor(t, "the gateway to load the view over TLS", func() bool { return gw.Revision() >= 1 })

	// Without the CA the client refuses the server's certificate.
	a := sn.auth(t, "admin")
	a.TLSCA = ""
	opts, err := a.Options()
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := natsadapter.Connect(sn.URL, "test-no-ca", nil, opts...); err == nil {
		nc.Close()
		t.Fatal("connected to a TLS server whose CA the client does not trust")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("connect without the CA: %v, want a certificate error", err)
	}
	cmd := exec.Command(binary(t), "user", "show", "tls-user", "--nats", sn.URL,
		"--nats-user", a.User, "--nats-password", a.Password, "--nats-inbox-prefix", a.InboxPrefix)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate") {
		t.Fatalf("CLI without --nats-tls-ca: %v\n%s\nwant a certificate error", err, out)
	}
}
