package server

import (
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/ukeygate/ukeygate/config"
)

// NewLogger makes the slog logger the configuration asks for: text or JSON
// at log.level, written to w. Unknown values fall back to info/text
// (Validate refuses them earlier).
func NewLogger(lc config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(lc.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(lc.Format) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newStdLogger routes http.Server's own messages (TLS handshake errors and
// the like) to l at warn level.
func newStdLogger(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelWarn)
}
