// Command cairn-ferretdb runs FerretDB (a MongoDB wire-protocol server) on SQLite for Cairn's
// local stack. It embeds FerretDB's Go package instead of using FerretDB's own binary because
// `go install .../cmd/ferretdb` panics at start: the module zip lacks build/version/version.txt.
//
// cairn-dev builds it with `go build` into its cache and starts it as a plain process.
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
	listenAddr := flag.String("listen-addr", "127.0.0.1:18017", "TCP address to listen on (host:port)")
	dataDir := flag.String("data-dir", "", "directory that holds the SQLite databases (required)")
	flag.Parse()

	if err := run(*listenAddr, *dataDir); err != nil {
		fmt.Fprintln(os.Stderr, "cairn-ferretdb:", err)
		os.Exit(1)
	}
}

func run(listenAddr, dataDir string) error {
	if dataDir == "" {
		return fmt.Errorf("-data-dir is required")
	}

	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}

	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	// Stop cleanly on SIGTERM (cairn-dev down) and SIGINT (Ctrl-C).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:   logger,
		Handler:  "sqlite",
		// FerretDB wants a directory URL with a trailing slash. It runs SQLite in WAL mode;
		// synchronous=NORMAL syncs the WAL at checkpoints rather than at every commit: a
		// killed process loses nothing, a power cut may lose the last commits, the same
		// guarantee as mongod's default write concern (journal flushed every 100 ms).
		SQLiteURL: "file:" + dir + "/?_pragma=synchronous(normal)",
	})
	if err != nil {
		return err
	}

	logger.Info("cairn-ferretdb starting", "listen", listenAddr, "data", dir)

	if err = f.Run(ctx); err != nil {
		return err
	}

	logger.Info("cairn-ferretdb stopped")

	return nil
}
