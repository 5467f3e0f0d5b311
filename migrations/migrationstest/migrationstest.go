// Package migrationstest gives tests a database of their own on the
// PostgreSQL server named by SLICELAB_TEST_POSTGRES_URL.
package migrationstest

import (
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
)

// PostgresURL creates a fresh, empty database named prefix_<random> and
// returns its URL; it is dropped when the test ends. Without
// SLICELAB_TEST_POSTGRES_URL the test is skipped.
func PostgresURL(t testing.TB, prefix string) string {
	t.Helper()
	admin := os.Getenv("SLICELAB_TEST_POSTGRES_URL")
	if admin == "" {
		t.Skip("SLICELAB_TEST_POSTGRES_URL is not set")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("SLICELAB_TEST_POSTGRES_URL: %v", err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	name := prefix + "_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	u.Path = "/" + name
	return u.String()
}
