package watermill_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// logBuffer collects log records so a failing test can show them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// onMsg, if set, is called with every record's message.
	onMsg atomic.Pointer[func(string)]
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger(level slog.Level) *slog.Logger {
	return slog.New(&hookHandler{Handler: slog.NewTextHandler(b, &slog.HandlerOptions{Level: level}), b: b})
}

// hookHandler passes every record's message to logBuffer.onMsg, whatever
// its level, then logs it if the level is enabled.
type hookHandler struct {
	slog.Handler
	b *logBuffer
}

func (h *hookHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.b.onMsg.Load() != nil || h.Handler.Enabled(ctx, l)
}

func (h *hookHandler) Handle(ctx context.Context, r slog.Record) error {
	if f := h.b.onMsg.Load(); f != nil {
		(*f)(r.Message)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *hookHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &hookHandler{Handler: h.Handler.WithAttrs(as), b: h.b}
}

func (h *hookHandler) WithGroup(name string) slog.Handler {
	return &hookHandler{Handler: h.Handler.WithGroup(name), b: h.b}
}
