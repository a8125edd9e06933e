package nats

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/userlife/userlife/events"
	"github.com/userlife/userlife/projections"
)

// opener makes the sealed fields of what an audit reads readable, as the
// read models show them: decrypted with the user's data key, or
// events.Erased once the key was destroyed (the user was deleted).
type opener struct {
	vault *KeyVault
	snap  map[string][]byte // every key, read at once; nil: ask per user
	keys  map[string][]byte // per-user answers (nil value: no key)

	// A key asked for ahead, while the events are read.
	ahead   string
	aheadCh chan keyAnswer
}

type keyAnswer struct {
	key []byte
	err error
}

// prefetch asks for userID's key now, beside the reading of its events,
// instead of after them.
func (o *opener) prefetch(ctx context.Context, userID string) {
	if o.snap != nil {
		return
	}
	o.ahead, o.aheadCh = userID, make(chan keyAnswer, 1)
	go func() {
		k, err := o.vault.Key(ctx, userID)
		o.aheadCh <- keyAnswer{k, err}
	}()
}

// vault binds the key vault on first use.
func (l *AuditLog) vault(ctx context.Context) (*KeyVault, error) {
	l.vaultMu.Lock()
	defer l.vaultMu.Unlock()
	if l.keys == nil {
		v, err := NewKeyVault(ctx, l.js)
		if err != nil {
			return nil, err
		}
		l.keys = v
	}
	return l.keys, nil
}

// newOpener returns an opener; snapshot reads every data key at once (for
// scans over many users) instead of one request per user.
func (l *AuditLog) newOpener(ctx context.Context, snapshot bool) (*opener, error) {
	v, err := l.vault(ctx)
	if err != nil {
		return nil, err
	}
	o := &opener{vault: v, keys: map[string][]byte{}}
	if snapshot {
		if o.snap, err = v.Snapshot(ctx); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *opener) key(ctx context.Context, userID string) ([]byte, error) {
	if o.snap != nil {
		return o.snap[userID], nil
	}
	if k, ok := o.keys[userID]; ok {
		return k, nil
	}
	if userID == o.ahead && o.aheadCh != nil {
		a := <-o.aheadCh
		o.aheadCh = nil
		if a.err == nil {
			o.keys[userID] = a.key
		}
		return a.key, a.err
	}
	k, err := o.vault.Key(ctx, userID)
	if err != nil {
		return nil, err
	}
	o.keys[userID] = k
	return k, nil
}

var sealedMark = []byte(`"email_sealed"`)

// row opens an audit row's sealed fields: a UserRegistered row's data
// shows {"email": …} as the history query does.
func (o *opener) row(ctx context.Context, r *projections.AuditEvent) error {
	if r.Type != events.TypeUserRegistered || !bytes.Contains(r.Data, sealedMark) {
		return nil
	}
	sealed, ok := sealedEmail(r.Data)
	if !ok {
		var d events.UserRegistered
		if err := json.Unmarshal(r.Data, &d); err != nil || d.EmailSealed == "" {
			return nil
		}
		sealed = d.EmailSealed
	}
	key, err := o.key(ctx, r.UserID)
	if err != nil {
		return err
	}
	email := events.Erased
	if key != nil {
		if email, err = events.OpenField(key, r.UserID, "email", sealed); err != nil {
			email = "[unreadable: " + err.Error() + "]"
		}
	}
	r.Data = emailData(email)
	return nil
}

// sealedEmail reads the data the service writes for a sealed registration,
// {"email_sealed":"v1:…"} (base64url: no escapes), without reflection;
// anything else is left to encoding/json.
func sealedEmail(data []byte) (string, bool) {
	const head, tail = `{"email_sealed":"`, `"}`
	if !bytes.HasPrefix(data, []byte(head)) || !bytes.HasSuffix(data, []byte(tail)) || len(data) <= len(head)+len(tail) {
		return "", false
	}
	v := data[len(head) : len(data)-len(tail)]
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':') {
			return "", false
		}
	}
	return string(v), true
}

// emailData is json.Marshal of {"email": email}, written directly when
// the email needs no escaping.
func emailData(email string) json.RawMessage {
	for i := 0; i < len(email); i++ {
		if c := email[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(struct {
				Email string `json:"email"`
			}{email})
			return b
		}
	}
	return json.RawMessage(`{"email":"` + email + `"}`)
}

// event opens a decoded event's sealed fields; a field its user's key
// cannot open is an error wrapping events.ErrUnsealable.
func (o *opener) event(ctx context.Context, e events.Event) (events.Event, error) {
	if !e.Sealed() {
		return e, nil
	}
	key, err := o.key(ctx, e.UserID)
	if err != nil {
		return e, err
	}
	return e.Open(key)
}
