package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/userlife/userlife/events"
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
