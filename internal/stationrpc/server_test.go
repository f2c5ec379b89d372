package stationrpc

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The TLS settings are both given or both empty, and must be readable; a
// mistake stops Herald at start with the settings' names.
func TestNewServerTLSSettings(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"certificate without key", Options{TLSCert: notPEM}, "set both (TLS) or neither"},
		{"key without certificate", Options{TLSKey: notPEM}, "set both (TLS) or neither"},
		{"missing files", Options{TLSCert: filepath.Join(dir, "none.pem"), TLSKey: filepath.Join(dir, "none.key")}, "grpc_tls_cert, grpc_tls_key: open"},
		{"not PEM", Options{TLSCert: notPEM, TLSKey: notPEM}, "grpc_tls_cert, grpc_tls_key:"},
	} {
		_, err := NewServer(nil, log, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
