package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
)

func TestReadHosts(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       emulator.Hosts
	}{
		{"firebase-tools default", `{"emulators": {"auth": {"port": 9099}}}`,
			emulator.Hosts{Auth: "localhost", Firestore: "localhost", PubSub: "localhost", Functions: "localhost"}},
		{"each its own", `{"emulators": {"auth": {"host": "0.0.0.0"}, "firestore": {"host": "::"},
			"pubsub": {"host": "192.0.2.2"}, "functions": {"host": "127.0.0.1"}}}`,
			emulator.Hosts{Auth: "0.0.0.0", Firestore: "::", PubSub: "192.0.2.2", Functions: "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "firebase.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.json), 0o600))
			got, err := readHosts(path)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDeviceBanner(t *testing.T) {
	ifaces := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("fe80::1")}
	all := func(host string) []emulator.Listener {
		return []emulator.Listener{{Name: "auth", Host: host, Port: 9099}, {Name: "firestore", Host: host, Port: 8080},
			{Name: "functions", Host: host, Port: 5001}}
	}
	for _, tc := range []struct {
		name      string
		listeners []emulator.Listener
		want      []string
		warn      bool
	}{
		{"loopback", all("127.0.0.1"), []string{"this machine only (host 127.0.0.1", `"host": "0.0.0.0"`}, false},
		{"wildcard", all("0.0.0.0"), []string{"192.0.2.2:9099", "192.0.2.2:8080", "192.0.2.2:5001",
			`useEmulator(withHost: "192.0.2.2", port: 9099)`, `settings.host = "192.0.2.2:8080"`,
			`Functions.functions(region: "us-central1").useEmulator(withHost: "192.0.2.2", port: 5001)`}, true},
		{"one exposed", []emulator.Listener{{Name: "auth", Host: "127.0.0.1", Port: 9099}, {Name: "firestore", Host: "192.0.2.2", Port: 8080}},
			[]string{"this machine only", "192.0.2.2:8080"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := deviceBanner(context.Background(), tc.listeners, ifaces, "us-central1")
			require.NoError(t, err)
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
			require.NotContains(t, got, "fe80")
			require.Equal(t, tc.warn, strings.Contains(got, "WARNING"), got)
		})
	}
}

// nonLoopbackAddr is one of this machine's addresses another machine could
// use, IPv4 preferred.
func nonLoopbackAddr(t *testing.T) netip.Addr {
	ifaces, err := emulator.InterfaceAddrs()
	require.NoError(t, err)
	var v6 netip.Addr
	for _, a := range ifaces {
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		if a.Is4() {
			return a
		}
		if !v6.IsValid() {
			v6 = a
		}
	}
	if !v6.IsValid() {
		t.Skipf("this machine has no non-loopback interface address (have %v): cannot check a device's view", ifaces)
	}
	return v6
}

// TestStackOnNonLoopbackHost starts the whole stack from a firebase.json
// that binds every emulator to one of this machine's non-loopback
// addresses, as for an iPhone on the desk, and reaches each server there
// (and not on the loopback, which it was told not to use).
func TestStackOnNonLoopbackHost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	root, err := emulator.ModuleRoot()
	require.NoError(t, err)
	ip := nonLoopbackAddr(t)
	// free chooses a port free on ip and holds the same port on the
	// loopback until the test ends: a stack of another package, choosing
	// free loopback ports meanwhile, could otherwise take it and answer
	// the loopback check below (a fresh-clone CI run failed so), and a
	// stack that bound the wildcard or the loopback by mistake cannot
	// start. The holder closes every connection at once.
	free := func() int {
		for range 20 {
			p, err := emulator.FreePort(ip.String())
			require.NoError(t, err)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				continue // taken on the loopback: choose another
			}
			t.Cleanup(func() { _ = l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					_ = c.Close()
				}
			}()
			return p
		}
		require.FailNow(t, "no port free on both addresses", "%s and 127.0.0.1", ip)
		return 0
	}
	path := filepath.Join(t.TempDir(), "firebase.json")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`{"emulators": {
		"auth": {"host": %[1]q, "port": %[2]d}, "firestore": {"host": %[1]q, "port": %[3]d},
		"pubsub": {"host": %[1]q, "port": %[4]d}, "functions": {"host": %[1]q, "port": %[5]d}}}`,
		ip.String(), free(), free(), free(), free())), 0o600))
	cfg, err := readFirebaseJSON(path)
	require.NoError(t, err)
	hosts, err := readHosts(path)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	local, err := emulator.Start(ctx, emulator.Options{
		ProjectID: "demo-hosts-test", Root: root, Hosts: hosts,
		FunctionsPort: cfg.Emulators.Functions.Port, AuthPort: cfg.Emulators.Auth.Port,
		FirestorePort: cfg.Emulators.Firestore.Port, PubSubPort: cfg.Emulators.PubSub.Port,
		Logs: io.Discard, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if errors.Is(err, emulator.ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
		t.Skipf("emulators not installed: %v (run `make test`)", err)
	}
	require.NoError(t, err)
	defer local.Stop()

	at := func(port int) string { return "http://" + netip.AddrPortFrom(ip, uint16(port)).String() }
	get := func(method, url, body string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	for _, tc := range []struct {
		name, method, path, body string
		port                     int
		wantCode                 int
		wantBody                 string
	}{
		{"auth sign-up", http.MethodPost, "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key",
			`{"returnSecureToken": true}`, cfg.Emulators.Auth.Port, http.StatusOK, "idToken"},
		{"firestore", http.MethodGet, "/", "", cfg.Emulators.Firestore.Port, http.StatusOK, "Ok"},
		{"pubsub", http.MethodGet, "/", "", cfg.Emulators.PubSub.Port, http.StatusOK, "Ok"},
		// Through the front server to the functions host: without a
		// token, the callable's own refusal.
		{"callable", http.MethodPost, "/demo-hosts-test/us-central1/discoverSessions", `{"data": {}}`,
			cfg.Emulators.Functions.Port, http.StatusUnauthorized, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := get(tc.method, at(tc.port)+tc.path, tc.body)
			require.NoError(t, err)
			require.Equal(t, tc.wantCode, code, body)
			require.Contains(t, body, tc.wantBody)
			code, body, err = get(tc.method, "http://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(tc.port))+tc.path, tc.body)
			require.Error(t, err, "%s answers on the loopback, though bound to %s: %d %s", tc.name, ip, code, body)
		})
	}

	banner, err := deviceBanner(ctx, local.Listeners(), []netip.Addr{ip}, local.Region)
	require.NoError(t, err)
	require.Contains(t, banner, "WARNING")
	for _, port := range []int{cfg.Emulators.Auth.Port, cfg.Emulators.Firestore.Port, cfg.Emulators.PubSub.Port, cfg.Emulators.Functions.Port} {
		require.Contains(t, banner, netip.AddrPortFrom(ip, uint16(port)).String())
	}
}

func TestHostAndPortOf(t *testing.T) {
	for _, tt := range []struct{ in, host, port string }{
		{"127.0.0.1:8080", "127.0.0.1", "8080"},
		{"http://127.0.0.1:5001", "127.0.0.1", "5001"},
		{"[::1]:9099", "::1", "9099"},
		{"http://[::1]:5001", "::1", "5001"},
	} {
		require.Equal(t, tt.host, hostOf(tt.in), tt.in)
		require.Equal(t, tt.port, portOf(tt.in), tt.in)
	}
}
