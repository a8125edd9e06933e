package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/userlife/userlife/adapters/http/admin"
	"github.com/userlife/userlife/adapters/http/console"
	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/adapters/nats/natstest"
	"github.com/userlife/userlife/adapters/postgres/pgtest"
	"github.com/userlife/userlife/events"
)

const (
	consoleAdminToken  = "console-admin-token-0123456789abcdef"
	consoleViewerToken = "console-viewer-token-0123456789abcdef"
	consoleAdminActor  = "ops-alice"
)

// consoleServe is serve with the console, PostgreSQL projections and two
// tokens, and a NATS client for changes made "elsewhere".
type consoleServe struct {
	t      *testing.T
	base   string
	client *natsadapter.Client
	js     jetstream.JetStream
}

func startConsoleServe(t *testing.T) *consoleServe {
	t.Helper()
	tokens, err := admin.ParseTokens(consoleAdminToken+" "+consoleAdminActor+" admin\n"+consoleViewerToken+" audit-vic viewer", "test")
	if err != nil {
		t.Fatal(err)
	}
	app, err := Start(t.Context(), ServeConfig{
		DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", PostgresURL: pgtest.DSN(t),
		HTTPListen: "127.0.0.1:0", AdminTokens: tokens, Console: console.Handler(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	_, js := natstest.Connect(t, app.NATSURL)
	client, err := natsadapter.NewClient(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleServe{t: t, base: "http://" + app.HTTPAddr, client: client, js: js}
}

// do sends a command as another client of the queue would.
func (s *consoleServe) do(t *testing.T, c events.Command) {
	t.Helper()
	out, err := s.client.Do(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != events.StatusAccepted {
		t.Fatalf("%s: %+v, want accepted", c.CommandName(), out)
	}
}

// seed registers a user, confirmed unless pending. The projections are
// asynchronous: the tests wait for the row in the page.
func (s *consoleServe) seed(t *testing.T, id, email string, confirmed bool) {
	t.Helper()
	m := events.CommandMeta{UserID: id, Actor: "seed"}
	s.do(t, &events.RegisterUser{CommandMeta: m, Email: email})
	if confirmed {
		s.do(t, &events.ConfirmUser{CommandMeta: m})
	}
}

// api reads a /v1 route with the admin token.
func (s *consoleServe) api(t *testing.T, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+consoleAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return res.StatusCode
}

func signIn(tb *tab, base, token string) { signInAt(tb, base+"/", token) }

// signInAt opens url (a page of the console) and signs in there.
func signInAt(tb *tab, url, token string) {
	tb.t.Helper()
	tb.do("open the sign-in page", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#token")))
	tb.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#actor")), chromedp.WaitVisible(chromedp.CSS("#search")))
}

func clearField(tb *tab, sel string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
}

// rowSel selects the users table's row of email.
func rowSel(email string) string { return fmt.Sprintf(`tr[data-email=%q]`, email) }

// search types a prefix into the search field and waits for a list in
// which every row matches it.
func search(tb *tab, prefix string) {
	tb.t.Helper()
	clearField(tb, "#search")
	tb.do("search by email", chromedp.SendKeys(chromedp.CSS("#search"), prefix))
	// Typing is debounced: the search is done when the address carries the
	// whole prefix, no list is loading and every row matches.
	tb.waitFor("the rows of "+prefix, fmt.Sprintf(`(() => {
		const q = new URLSearchParams(location.hash.split("?")[1] || "");
		if (q.get("email") !== %[1]q || document.querySelector("#main [aria-busy]") !== null) return false;
		const rows = [...document.querySelectorAll("tr[data-email]")];
		return document.querySelector("#main .empty") !== null && rows.length === 0 ||
			rows.length > 0 && rows.every(r => r.dataset.email.startsWith(%[1]q)); })()`, prefix))
}

// openMenu opens a row's "…" menu and returns its items' labels.
func openMenu(tb *tab, email string) []string {
	tb.t.Helper()
	tb.do("open the … menu of "+email, chromedp.Click(chromedp.CSS(rowSel(email)+" .btn-icon")), chromedp.WaitVisible(chromedp.CSS(".menu")))
	return evalJS[[]string](tb, `[...document.querySelectorAll(".menu [role=menuitem]")].map(e => e.textContent)`)
}

func text(tb *tab, sel string) string {
	tb.t.Helper()
	return evalJS[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel))
}

// historyRow is a row of the user page's history table.
type historyRow struct {
	Type   string `json:"type"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

func historyRows(tb *tab) []historyRow {
	tb.t.Helper()
	return evalJS[[]historyRow](tb, `[...document.querySelectorAll("table.history tbody tr")].map(r =>
		({type: r.dataset.type, actor: r.querySelector(".actor").textContent, reason: r.querySelector(".reason").textContent}))`)
}
