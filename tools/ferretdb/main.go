// Command lethe-ferretdb runs FerretDB v1.24 embedded, with SQLite storage, as
// the MongoDB-wire document store of the development stack and the tests.
//
// It embeds the github.com/FerretDB/FerretDB/ferretdb package instead of
// building cmd/ferretdb, whose version file is only generated at release time.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", envOr("LETHE_FERRETDB_LISTEN", "127.0.0.1:27017"), "TCP address to listen on")
	dataDir := flag.String("data", envOr("LETHE_FERRETDB_DATA", "var/ferretdb"), "directory of the SQLite files")
	logLevel := flag.String("log-level", envOr("LETHE_FERRETDB_LOG_LEVEL", "warn"), "debug, info, warn or error")
	// WAL with synchronous(normal): a commit survives a crash of this process (the
	// outage tests kill it with SIGKILL) but not necessarily an OS crash or power
	// loss, which is the right trade for a development and test store; FerretDB's
	// default (full) waits for an fsync on every commit. "-sync full" restores it.
	sync := flag.String("sync", envOr("LETHE_FERRETDB_SYNC", "normal"), "SQLite synchronous pragma: normal or full")
	flag.Parse()

	if *sync != "normal" && *sync != "full" {
		fail("bad -sync %q: normal or full", *sync)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail("bad log level %q: %v", *logLevel, err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	absData, err := filepath.Abs(*dataDir)
	if err != nil {
		fail("data directory: %v", err)
	}
	if err = os.MkdirAll(absData, 0o750); err != nil {
		fail("data directory: %v", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + absData + "/?_pragma=synchronous(" + *sync + ")",
	})
	if err != nil {
		fail("start: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("listening", "addr", *listen, "data", absData, "sync", *sync)
	if err = f.Run(ctx); err != nil && ctx.Err() == nil {
		fail("run: %v", err)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "lethe-ferretdb: "+format+"\n", args...)
	os.Exit(1)
}
