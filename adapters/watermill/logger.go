package watermill

import (
	"context"
	"log/slog"

	wm "github.com/ThreeDotsLabs/watermill"
)

// leveledLogger is Watermill's slog adapter with the level checked first.
// Watermill and watermill-nats log several Trace and Debug lines for every
// message, and the adapter turns each line's fields into slog attributes
// before slog drops the line as below its level: per-message allocations
// for nothing.
type leveledLogger struct {
	wm.LoggerAdapter
	l *slog.Logger
}

// newLogger adapts l for Watermill, logging Watermill's Info lines (router
// start/stop chatter) at Debug.
func newLogger(l *slog.Logger) wm.LoggerAdapter {
	l = l.With("component", "watermill")
	return leveledLogger{
		LoggerAdapter: wm.NewSlogLoggerWithLevelMapping(l, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}),
		l:             l,
	}
}

func (g leveledLogger) on(level slog.Level) bool { return g.l.Enabled(context.Background(), level) }

func (g leveledLogger) Error(msg string, err error, fields wm.LogFields) {
	if g.on(slog.LevelError) {
		g.LoggerAdapter.Error(msg, err, fields)
	}
}

func (g leveledLogger) Info(msg string, fields wm.LogFields) {
	if g.on(slog.LevelDebug) {
		g.LoggerAdapter.Info(msg, fields)
	}
}

func (g leveledLogger) Debug(msg string, fields wm.LogFields) {
	if g.on(slog.LevelDebug) {
		g.LoggerAdapter.Debug(msg, fields)
	}
}

func (g leveledLogger) Trace(msg string, fields wm.LogFields) {
	if g.on(wm.LevelTrace) {
		g.LoggerAdapter.Trace(msg, fields)
	}
}

func (g leveledLogger) With(fields wm.LogFields) wm.LoggerAdapter {
	return leveledLogger{LoggerAdapter: g.LoggerAdapter.With(fields), l: g.l}
}
