package http_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	httpadapter "github.com/userlife/userlife/adapters/http"
	"github.com/userlife/userlife/projections/revocation"
)

// BenchmarkGatewayOverhead sends b.N requests through the gateway (a real
// http.Server on loopback, HS256 verification, a real Checker loaded with
// 100,000 users) and b.N requests straight to the same upstream, with the
// same number of keep-alive clients, in the same run, and reports both
// rates, their ratio and the latency percentiles. The gateway uses its
// default upstream transport, as `userlife gateway` does, and, for
// comparison at 32 clients, one that keeps 64 idle upstream connections.
func BenchmarkGatewayOverhead(b *testing.B) {
	const users = 100_000
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}))
	var conns atomic.Int64 // connections the upstream accepted
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	upURL, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}

	checker := revocation.NewChecker(revocation.Config{})
	entries := make([]revocation.Entry, users)
	for i := range entries {
		entries[i] = revocation.Entry{UserID: fmt.Sprintf("u%d", i), State: revocation.StateConfirmed, Revision: uint64(i + 1)}
		if i%10 == 0 { // revoked long before the tokens were issued: still allowed
			entries[i].RevokedBefore = now.Add(-time.Hour)
		}
	}
	checker.Load(entries, users)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = hs256(b, mutate(func(c *httpadapter.Claims) {
			c.Subject = fmt.Sprintf("u%d", i*(users/len(tokens)))
			c.SessionID = fmt.Sprintf("s-%d", i)
		}))
	}

	// idle is the gateway transport's MaxIdleConnsPerHost; 0 is the
	// gateway's default transport (64), 2 is Go's default, for comparison.
	for _, tc := range []struct{ clients, idle int }{{1, 0}, {32, 0}, {32, 2}} {
		name := fmt.Sprintf("clients=%d", tc.clients)
		var tr http.RoundTripper
		if tc.idle > 0 {
			name += fmt.Sprintf("/upstream-idle=%d", tc.idle)
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConnsPerHost = tc.idle
			t.ResponseHeaderTimeout = httpadapter.UpstreamResponseHeaderTimeout
			tr = t
		}
		g, err := httpadapter.NewGateway(httpadapter.GatewayConfig{
			Upstream: upURL, Verifier: hsVerifier(b), Enforcer: checker, Status: checker, Transport: tr,
		})
		if err != nil {
			b.Fatal(err)
		}
		gw := httptest.NewServer(g)
		clients := tc.clients
		b.Run(name, func(b *testing.B) {
			direct := load(b, up.URL+"/x", tokens, clients, b.N)
			c0 := conns.Load()
			through := load(b, gw.URL+"/x", tokens, clients, b.N)
			// Connections the gateway opened to the upstream per 1,000
			// requests.
			b.ReportMetric(float64(conns.Load()-c0)*1000/float64(b.N), "upstream-conns/1k-req")
			b.ReportMetric(direct.rate, "direct-req/s")
			b.ReportMetric(through.rate, "gateway-req/s")
			b.ReportMetric(through.rate/direct.rate, "rate-ratio")
			b.ReportMetric(ms(direct.lat, 0.5), "direct-p50-ms")
			b.ReportMetric(ms(direct.lat, 0.99), "direct-p99-ms")
			b.ReportMetric(ms(through.lat, 0.5), "gateway-p50-ms")
			b.ReportMetric(ms(through.lat, 0.99), "gateway-p99-ms")
		})
		gw.Close()
	}
}

type loadResult struct {
	rate float64 // requests/s
	lat  []time.Duration
}

// load sends n GET requests to target from clients goroutines sharing one
// keep-alive http.Client, each request with a bearer token; every answer
// must be 200.
func load(b *testing.B, target string, tokens []string, clients, n int) loadResult {
	b.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	// Warm up: one connection per client, outside the measurement.
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() { _ = get(hc, target, tokens[0]) })
	}
	wg.Wait()

	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	var failed atomic.Value
	t0 := time.Now()
	for c := range clients {
		wg.Go(func() {
			lat := make([]time.Duration, 0, n/clients+1)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					break
				}
				s := time.Now()
				if err := get(hc, target, tokens[int(i)%len(tokens)]); err != nil {
					failed.CompareAndSwap(nil, err)
					break
				}
				lat = append(lat, time.Since(s))
			}
			lats[c] = lat
		})
	}
	wg.Wait()
	el := time.Since(t0)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return loadResult{rate: float64(n) / el.Seconds(), lat: slices.Concat(lats...)}
}

func get(hc *http.Client, target, token string) error {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", target, res.StatusCode)
	}
	return nil
}

func ms(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
}
