package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	natsadapter "github.com/userlife/userlife/adapters/nats"
	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// TestConsoleInBrowser drives the console in headless Chromium against
// serve with NATS JetStream and PostgreSQL projections.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	s := startConsoleServe(t)
	browser := newBrowser(t)

	t.Run("sign in, reload, sign out", func(t *testing.T) {
		t.Parallel()
		res, err := http.Get(s.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("GET /: Content-Security-Policy %q, want script-src 'self' and style-src 'self'", csp)
		}
		tb := newTab(t, browser)
		tb.do("open the sign-in page", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
		tb.do("sign in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-a-configured-token-at-all"),
			chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#signin-error")))
		if got := text(tb, "#signin-error"); !strings.Contains(got, "not valid") {
			t.Errorf("wrong token: message %q, want it to say the token is not valid", got)
		}
		clearField(tb, "#token")
		signIn(tb, s.base, consoleAdminToken)
		if got, role := text(tb, "#actor"), text(tb, "#role"); got != consoleAdminActor || role != "Admin" {
			t.Errorf("signed in as %q %q, want %q Admin", got, role, consoleAdminActor)
		}
		tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#actor")))
		tb.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")))
		tb.do("reload after signing out", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#token")))
		tb.checkNoErrors()
	})

	t.Run("find a user and disable with a reason", func(t *testing.T) {
		t.Parallel()
		const email = "ann-disable@example.test"
		s.seed(t, "ann-disable", email, true)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleAdminToken)
		// After a reload the CSRF token comes from GET /v1/session.
		tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#search")))
		search(tb, "ann-disable")
		tb.waitFor("ann's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		items := openMenu(tb, email)
		if want := []string{"View details", "Disable user", "Revoke all sessions", "Delete user"}; !slices.Equal(items, want) {
			t.Errorf("menu of a confirmed user: %q, want %q", items, want)
		}
		tb.do("choose Disable user", chromedp.Click(chromedp.CSS(`.menu [data-action="disable"]`)), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reason")))
		tb.do("submit without a reason", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#reason-error")))
		tb.do("give a reason and submit", chromedp.SendKeys(chromedp.CSS("#reason"), "Chargeback on invoice 4411"),
			chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`); got != "accepted" {
			t.Fatalf("outcome %q (%s), want accepted", got, text(tb, ".outcome"))
		}
		tb.do("close the dialog", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
		tb.waitFor("ann to leave the Confirmed tab", fmt.Sprintf(`document.querySelector(%q) === null`, rowSel(email)))
		tb.do("open the Disabled tab", chromedp.Click(chromedp.CSS(`.tab[data-state="disabled"]`)), chromedp.WaitVisible(chromedp.CSS(rowSel(email))))
		tb.do("open ann's page", chromedp.Click(chromedp.CSS(rowSel(email)+" a.email")), chromedp.WaitVisible(chromedp.CSS("table.history")))
		tb.waitFor("the disable in the history", `[...document.querySelectorAll("table.history tbody tr")].some(r => r.dataset.type === "UserDisabled")`)
		if got := text(tb, ".user-title .badge"); got != "Disabled" {
			t.Errorf("state badge %q, want Disabled", got)
		}
		rows := historyRows(tb)
		want := historyRow{Type: "UserDisabled", Actor: consoleAdminActor, Reason: "Chargeback on invoice 4411"}
		if len(rows) != 3 || rows[0] != want {
			t.Errorf("history (newest first) %+v, want 3 rows, the first %+v", rows, want)
		}
		buttons := evalJS[[]string](tb, `[...document.querySelectorAll(".actions button")].map(b => b.textContent)`)
		if want := []string{"Enable user", "Revoke all sessions", "Delete user"}; !slices.Equal(buttons, want) {
			t.Errorf("actions of a disabled user: %q, want %q", buttons, want)
		}
		if rb := text(tb, ".grid .card:nth-child(2) dd"); rb == "" || strings.Contains(rb, "Never") {
			t.Errorf("revoked before %q, want the disable's time", rb)
		}
		tb.checkNoErrors()
	})

	t.Run("a pending user has no Disable", func(t *testing.T) {
		t.Parallel()
		const email = "pat-pending@example.test"
		s.seed(t, "pat-pending", email, false)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleAdminToken)
		tb.do("open the Pending tab", chromedp.Click(chromedp.CSS(`.tab[data-state="pending"]`)), chromedp.WaitVisible(chromedp.CSS(`.tab.active[data-state="pending"]`)))
		search(tb, "pat-pending")
		tb.waitFor("pat's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		items := openMenu(tb, email)
		if want := []string{"View details", "Confirm user", "Delete user"}; !slices.Equal(items, want) {
			t.Errorf("menu of a pending user: %q, want %q", items, want)
		}
		if slices.Contains(items, "Disable user") {
			t.Error("a pending user is offered Disable user")
		}
		tb.checkNoErrors()
	})

	t.Run("delete removes the row", func(t *testing.T) {
		t.Parallel()
		const email = "dan-delete@example.test"
		s.seed(t, "dan-delete", email, true)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleAdminToken)
		search(tb, "dan-delete")
		tb.waitFor("dan's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		openMenu(tb, email)
		tb.do("choose Delete user", chromedp.Click(chromedp.CSS(`.menu [data-action="delete"]`)), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reason")))
		tb.do("give a reason and delete", chromedp.SendKeys(chromedp.CSS("#reason"), "Asked to be forgotten"),
			chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`); got != "accepted" {
			t.Fatalf("outcome %q (%s), want accepted", got, text(tb, ".outcome"))
		}
		tb.do("close the dialog", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
		tb.waitFor("dan's row to go", fmt.Sprintf(`document.querySelector(%q) === null`, rowSel(email)))
		tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#search")))
		search(tb, "dan-delete")
		if n := evalJS[int](tb, `document.querySelectorAll("tr[data-email]").length`); n != 0 {
			t.Errorf("after a reload: %d rows for dan-delete, want none", n)
		}
		tb.do("open dan's page", chromedp.Navigate(s.base+"/#/users/dan-delete"), chromedp.WaitVisible(chromedp.CSS("table.history")))
		if got := text(tb, ".user-title .badge"); got != "Deleted" {
			t.Errorf("deleted user's badge %q, want Deleted", got)
		}
		if n := evalJS[int](tb, `document.querySelectorAll(".actions button").length`); n != 0 {
			t.Errorf("a deleted user's page offers %d actions, want none", n)
		}
		if rows := historyRows(tb); len(rows) == 0 || rows[0] != (historyRow{Type: "UserDeleted", Actor: consoleAdminActor, Reason: "Asked to be forgotten"}) {
			t.Errorf("history of the deleted user: %+v", rows)
		}
		tb.checkNoErrors()
	})

	t.Run("erasure receipts of a deleted user", func(t *testing.T) {
		t.Parallel()
		// The services register as the purge example does; only this
		// subtest registers any, so the receipt lists exactly these.
		ds, err := natsadapter.NewDataServices(t.Context(), s.js)
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range []projections.DataService{
			{Service: "todo", Description: "todo_items of each user"},
			{Service: "billing", Description: "invoices"},
		} {
			if _, err := ds.Register(t.Context(), svc); err != nil {
				t.Fatal(err)
			}
		}
		s.seed(t, "eve-erased", "eve-erased@example.test", true)
		s.do(t, &events.DeleteUser{CommandMeta: events.CommandMeta{UserID: "eve-erased", Actor: consoleAdminActor, Reason: "Asked to be forgotten"}})
		tb := newTab(t, browser)
		signInOnUserPage(tb, s.base, "eve-erased")
		tb.waitFor("the erasure section", `document.querySelector("#erasure:not([hidden]) table.erasure-table") !== null`)
		type erasureRow struct {
			Service string `json:"service"`
			Status  string `json:"status"`
			Text    string `json:"text"`
		}
		rows := func() []erasureRow {
			return evalJS[[]erasureRow](tb, `[...document.querySelectorAll("table.erasure-table tbody tr")].map(r =>
				({service: r.dataset.service, status: r.dataset.status, text: r.querySelector(".erasure-status").textContent}))`)
		}
		want := []erasureRow{{"billing", "pending", "Pending no receipt from this service yet"}, {"todo", "pending", "Pending no receipt from this service yet"}}
		if got := rows(); !slices.Equal(got, want) {
			t.Errorf("receipts before any purge: %+v, want %+v", got, want)
		}
		if got, chip := text(tb, ".erasure-summary"), text(tb, "#erasure-chip"); got != "0 of 2 services confirmed" || chip != "Erasure: 0 of 2 services confirmed" {
			t.Errorf("summary %q, header %q; want 0 of 2 services confirmed", got, chip)
		}

		// The todo service reports its purge: the page shows it by itself.
		purge := func(service string, n int64) uint64 {
			t.Helper()
			out, err := s.client.Do(t.Context(), &events.RecordDataPurged{
				CommandMeta: events.CommandMeta{UserID: "eve-erased", Actor: service + "-purger"}, Service: service, ItemsRemoved: n})
			if err != nil || out.Status != events.StatusAccepted {
				t.Fatalf("RecordDataPurged %s: %+v, %v", service, out, err)
			}
			return out.EventSeq
		}
		seq := purge("todo", 3)
		tb.waitFor("todo to show as purged without a reload", `document.querySelector('tr[data-service="todo"]').dataset.status === "purged"`)
		var receipt projections.ErasureReceipt
		if code := s.api(t, "/v1/users/eve-erased/erasure", &receipt); code != http.StatusOK || len(receipt.Services) != 2 {
			t.Fatalf("GET erasure: %d %+v", code, receipt)
		}
		purgedAt := evalJS[string](tb, `document.querySelector('tr[data-service="todo"] time').getAttribute("datetime")`)
		if at, err := time.Parse(time.RFC3339Nano, purgedAt); err != nil || !at.Equal(receipt.Services[1].PurgedAt) {
			t.Errorf("todo purged at %q, want the receipt's %s", purgedAt, receipt.Services[1].PurgedAt)
		}
		got := rows()
		if len(got) != 2 || got[0] != want[0] || got[1].Status != "purged" || !strings.HasPrefix(got[1].Text, "Purged 3 items at ") {
			t.Errorf("receipts after todo's purge: %+v, want billing pending and todo purged 3 items at a time", got)
		}
		if by := text(tb, `tr[data-service="todo"] td:last-child`); by != fmt.Sprintf("todo-purger #%d", seq) {
			t.Errorf("todo reported by %q, want %q", by, fmt.Sprintf("todo-purger #%d", seq))
		}
		if got, chip := text(tb, ".erasure-summary"), text(tb, "#erasure-chip"); got != "1 of 2 services confirmed" || chip != "Erasure: 1 of 2 services confirmed" {
			t.Errorf("summary %q, header %q; want 1 of 2 services confirmed", got, chip)
		}
		tb.waitFor("the purge in the history", `[...document.querySelectorAll("table.history tbody tr")].some(r => r.dataset.type === "UserDataPurged")`)
		if got := text(tb, ".user-title .badge"); got != "Deleted" {
			t.Errorf("state badge after a purge %q, want Deleted", got)
		}
		if got := evalJS[[]string](tb, `[...document.querySelectorAll(".grid .card:first-child dt")].map(e => e.textContent)`); !slices.Contains(got, "Deleted") {
			t.Errorf("details after a purge: %q, want the time of the delete among them", got)
		}
		saveArtifact(tb, "console-erasure.png")

		purge("billing", 1)
		tb.waitFor("billing to show as purged without a reload", `document.querySelector('tr[data-service="billing"]').dataset.status === "purged"`)
		if got := text(tb, `tr[data-service="billing"] .erasure-status`); !strings.HasPrefix(got, "Purged 1 item at ") {
			t.Errorf("billing's receipt %q, want Purged 1 item at a time", got)
		}
		tb.waitFor("the summary to say complete", `document.querySelector(".erasure-summary").dataset.status === "complete"`)
		if got := text(tb, "#erasure-chip"); got != "Erasure: 2 of 2 services confirmed" {
			t.Errorf("header %q, want Erasure: 2 of 2 services confirmed", got)
		}
		// The header's summary leads to the receipts.
		tb.do("click the header's summary", chromedp.Click(chromedp.CSS("#erasure-chip")))
		tb.waitFor("the erasure section in view", `(() => { const r = document.getElementById("erasure").getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; })()`)
		tb.checkNoErrors()
	})

	t.Run("a live user has no erasure section", func(t *testing.T) {
		t.Parallel()
		s.seed(t, "lou-live", "lou-live@example.test", true)
		tb := newTab(t, browser)
		signInOnUserPage(tb, s.base, "lou-live")
		tb.waitFor("lou's history", `document.querySelectorAll("table.history tbody tr").length === 2`)
		if n := evalJS[int](tb, `document.querySelectorAll("#erasure:not([hidden]), #erasure-chip").length`); n != 0 {
			t.Errorf("a live user's page shows %d erasure elements, want none", n)
		}
		tb.checkNoErrors()
	})

	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		for i := 1; i <= 7; i++ {
			s.seed(t, fmt.Sprintf("pager-%d", i), fmt.Sprintf("pager-%d@example.test", i), true)
		}
		tb := newTab(t, browser)
		signInAt(tb, s.base+"/#/users?state=confirmed&limit=3", consoleAdminToken)
		search(tb, "pager-")
		rows := func() []string {
			return evalJS[[]string](tb, `[...document.querySelectorAll("tr[data-email]")].map(r => r.dataset.email)`)
		}
		disabled := func(id string) bool { return evalJS[bool](tb, fmt.Sprintf(`document.getElementById(%q).disabled`, id)) }
		page := func(n int) []string {
			var want []string
			for i := 3*n + 1; i <= min(3*n+3, 7); i++ {
				want = append(want, fmt.Sprintf("pager-%d@example.test", i))
			}
			return want
		}
		// The seven users may still be reaching the projection.
		tb.waitFor("three rows and a next page", `document.querySelectorAll("tr[data-email]").length === 3 && !document.getElementById("next").disabled`)
		if got := rows(); !slices.Equal(got, page(0)) || !disabled("prev") {
			t.Fatalf("first page %q (Previous disabled: %v), want %q and Previous disabled", got, disabled("prev"), page(0))
		}
		for n, button := range []string{"next", "next", "prev"} {
			want := page([]int{1, 2, 1}[n])
			tb.do("click "+button, chromedp.Click(chromedp.CSS("#"+button)))
			tb.waitFor("the page after "+button, fmt.Sprintf(`document.querySelector("tr[data-email]").dataset.email === %q`, want[0]))
			if got := rows(); !slices.Equal(got, want) {
				t.Errorf("after %s: %q, want %q", button, got, want)
			}
			if n == 1 && !disabled("next") {
				t.Error("last page: Next is enabled")
			}
		}
		if disabled("prev") || disabled("next") {
			t.Errorf("middle page: Previous disabled %v, Next disabled %v; want both enabled", disabled("prev"), disabled("next"))
		}
		if got := text(tb, "#showing"); got != "Showing 4–6" {
			t.Errorf("middle page says %q, want %q", got, "Showing 4–6")
		}
		tb.checkNoErrors()
	})

	t.Run("changes made elsewhere show without a reload", func(t *testing.T) {
		t.Parallel()
		const email = "liv-live@example.test"
		s.seed(t, "liv-live", email, true)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleAdminToken)
		search(tb, "liv-live")
		tb.waitFor("liv's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		s.do(t, &events.DisableUser{CommandMeta: events.CommandMeta{UserID: "liv-live", Actor: "elsewhere", Reason: "from another client"}})
		tb.waitFor("liv to leave the Confirmed tab by itself", fmt.Sprintf(`document.querySelector(%q) === null`, rowSel(email)))
		tb.do("open liv's page", chromedp.Navigate(s.base+"/#/users/liv-live"), chromedp.WaitVisible(chromedp.CSS("table.history")))
		s.do(t, &events.EnableUser{CommandMeta: events.CommandMeta{UserID: "liv-live", Actor: "elsewhere", Reason: "appeal granted"}})
		tb.waitFor("the enable in the history by itself", `[...document.querySelectorAll("table.history tbody tr")].some(r => r.dataset.type === "UserEnabled")`)
		tb.waitFor("the badge to say Confirmed", `document.querySelector(".user-title .badge").textContent === "Confirmed"`)
		if rows := historyRows(tb); rows[0] != (historyRow{Type: "UserEnabled", Actor: "elsewhere", Reason: "appeal granted"}) {
			t.Errorf("newest history row %+v", rows[0])
		}
		tb.checkNoErrors()
	})

	t.Run("a rejected command shows its message", func(t *testing.T) {
		t.Parallel()
		const email = "rex-rejected@example.test"
		s.seed(t, "rex-rejected", email, true)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleAdminToken)
		search(tb, "rex-rejected")
		tb.waitFor("rex's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		openMenu(tb, email)
		tb.do("choose Disable user", chromedp.Click(chromedp.CSS(`.menu [data-action="disable"]`)), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reason")))
		// While the dialog is open, someone else deletes the user.
		s.do(t, &events.DeleteUser{CommandMeta: events.CommandMeta{UserID: "rex-rejected", Actor: "elsewhere", Reason: "duplicate"}})
		tb.do("give a reason and submit", chromedp.SendKeys(chromedp.CSS("#reason"), "Too late"),
			chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`); got != "rejected" {
			t.Fatalf("outcome %q (%s), want rejected", got, text(tb, ".outcome"))
		}
		if msg := text(tb, ".outcome"); !strings.Contains(msg, "Rejected.") || len(msg) < len("Rejected. ")+10 {
			t.Errorf("rejection shown as %q, want the server's message", msg)
		}
		tb.checkNoErrors()
	})

	t.Run("an unchanged command says so", func(t *testing.T) {
		t.Parallel()
		const email = "una-unchanged@example.test"
		s.seed(t, "una-unchanged", email, false)
		tb := newTab(t, browser)
		signInAt(tb, s.base+"/#/users?state=pending", consoleAdminToken)
		search(tb, "una-unchanged")
		tb.waitFor("una's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		openMenu(tb, email)
		tb.do("choose Confirm user", chromedp.Click(chromedp.CSS(`.menu [data-action="confirm"]`)), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reason")))
		// While the dialog is open, the user confirms by another way.
		s.do(t, &events.ConfirmUser{CommandMeta: events.CommandMeta{UserID: "una-unchanged", Actor: "elsewhere"}})
		tb.do("confirm", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`); got != "unchanged" {
			t.Fatalf("outcome %q (%s), want unchanged", got, text(tb, ".outcome"))
		}
		if msg := text(tb, ".outcome"); !strings.Contains(msg, "already confirmed") {
			t.Errorf("unchanged outcome shown as %q, want the server's message", msg)
		}
		tb.do("close the dialog", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
		tb.waitFor("una to leave the Pending tab", fmt.Sprintf(`document.querySelector(%q) === null`, rowSel(email)))
		tb.checkNoErrors()
	})

	t.Run("register a user", func(t *testing.T) {
		t.Parallel()
		tb := newTab(t, browser)
		signInAt(tb, s.base+"/#/users?state=pending", consoleAdminToken)
		tb.do("open Register user", chromedp.Click(chromedp.CSS("#register")), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reg-email")))
		tb.do("register rea", chromedp.SendKeys(chromedp.CSS("#reg-email"), "rea-registered@example.test"),
			chromedp.SendKeys(chromedp.CSS("#reg-id"), "rea-registered"), chromedp.SendKeys(chromedp.CSS("#reg-reason"), "Invited by support"),
			chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`); got != "accepted" {
			t.Fatalf("outcome %q (%s), want accepted", got, text(tb, ".outcome"))
		}
		tb.do("close the dialog", chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitNotPresent(chromedp.CSS("dialog")))
		search(tb, "rea-registered")
		tb.waitFor("rea in the Pending tab", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel("rea-registered@example.test")))
		// The same email again is rejected with the server's reason.
		tb.do("register rea again", chromedp.Click(chromedp.CSS("#register")), chromedp.WaitVisible(chromedp.CSS("dialog[open] #reg-email")),
			chromedp.SendKeys(chromedp.CSS("#reg-email"), "REA-registered@example.test"),
			chromedp.Click(chromedp.CSS("dialog[open] button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".outcome")))
		if got, msg := evalJS[string](tb, `document.querySelector(".outcome").dataset.outcome`), text(tb, ".outcome"); got != "rejected" || !strings.Contains(msg, "email_taken") {
			t.Errorf("registering a taken email: %q %q, want rejected with email_taken", got, msg)
		}
		tb.checkNoErrors()
	})

	t.Run("a viewer cannot mutate", func(t *testing.T) {
		t.Parallel()
		const email, pending = "vic-viewed@example.test", "vic-viewed-pending@example.test"
		s.seed(t, "vic-viewed", email, true)
		s.seed(t, "vic-viewed-pending", pending, false)
		tb := newTab(t, browser)
		signIn(tb, s.base, consoleViewerToken)
		if got := text(tb, "#role"); !strings.Contains(got, "read only") {
			t.Errorf("role shown as %q, want it to say read only", got)
		}
		if n := evalJS[int](tb, `document.querySelectorAll("#register").length`); n != 0 {
			t.Error("a viewer is offered Register user")
		}
		search(tb, "vic-viewed")
		tb.waitFor("vic's row", fmt.Sprintf(`document.querySelector(%q) !== null`, rowSel(email)))
		if items := openMenu(tb, email); !slices.Equal(items, []string{"View details"}) {
			t.Errorf("a viewer's menu of a confirmed user: %q, want only View details", items)
		}
		tb.do("open the Pending tab", chromedp.Click(chromedp.CSS(`.tab[data-state="pending"]`)), chromedp.WaitVisible(chromedp.CSS(rowSel(pending))))
		if items := openMenu(tb, pending); !slices.Equal(items, []string{"View details"}) {
			t.Errorf("a viewer's menu of a pending user: %q, want only View details", items)
		}
		tb.do("open vic's page", chromedp.Navigate(s.base+"/#/users/vic-viewed"), chromedp.WaitVisible(chromedp.CSS("table.history")))
		if n := evalJS[int](tb, `document.querySelectorAll(".actions button").length`); n != 0 {
			t.Errorf("a viewer's user page has %d action buttons, want none", n)
		}
		// The API refuses too, whatever the page offers.
		got := evalJS[[]any](tb, `(async () => {
			const s = await (await fetch("/v1/session")).json();
			const r = await fetch("/v1/users/vic-viewed/disable", {method: "POST",
				headers: {"X-CSRF-Token": s.csrf_token, "Content-Type": "application/json"}, body: '{"reason":"viewer try"}'});
			return [r.status, (await r.json()).code];
		})()`, chromedp.EvalAwaitPromise)
		if len(got) != 2 || got[0] != float64(http.StatusForbidden) || got[1] != "forbidden" {
			t.Errorf("a viewer's disable: %v, want [403 forbidden]", got)
		}
		var detail struct {
			User struct{ State string } `json:"user"`
		}
		if code := s.api(t, "/v1/users/vic-viewed", &detail); code != http.StatusOK || detail.User.State != "confirmed" {
			t.Errorf("after the viewer's attempt: %d %q, want 200 confirmed", code, detail.User.State)
		}
		tb.checkNoErrors()
	})
}

// signInOnUserPage opens a user's page and signs in as the admin there.
func signInOnUserPage(tb *tab, base, id string) {
	tb.t.Helper()
	tb.do("open the sign-in page", chromedp.Navigate(base+"/#/users/"+id), chromedp.WaitVisible(chromedp.CSS("#token")))
	tb.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), consoleAdminToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#actor")), chromedp.WaitVisible(chromedp.CSS("table.history")))
}

// saveArtifact saves a screenshot of the page as name in the test's
// artifact directory when the tests run with -artifacts (the console's
// documentation images come from there).
func saveArtifact(tb *tab, name string) {
	tb.t.Helper()
	if f := flag.Lookup("test.artifacts"); f == nil || f.Value.String() != "true" {
		return
	}
	png := evalScreenshot(tb)
	path := filepath.Join(tb.t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

func evalScreenshot(tb *tab) []byte {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserStep)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	return png
}
