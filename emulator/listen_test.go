package emulator

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestListenAddrs(t *testing.T) {
	for _, tc := range []struct {
		host string
		want []netip.Addr
	}{
		{"", addrs("127.0.0.1", "::1")},
		{"localhost", addrs("127.0.0.1", "::1")},
		{"127.0.0.1", addrs("127.0.0.1")},
		{"0.0.0.0", addrs("0.0.0.0")},
		{"::", addrs("::")},
		{"[::]", addrs("::")},
		{"192.0.2.7", addrs("192.0.2.7")},
		{"fd00::7", addrs("fd00::7")},
	} {
		t.Run(tc.host, func(t *testing.T) {
			got, err := listenAddrs(context.Background(), tc.host)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := listenAddrs(context.Background(), "no-such-host.invalid")
	require.Error(t, err)
}

func TestConnectHostPort(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"0.0.0.0", "127.0.0.1:9"},
		{"::", "127.0.0.1:9"},
		{"127.0.0.1", "127.0.0.1:9"},
		{"::1", "[::1]:9"},
		{"192.0.2.7", "192.0.2.7:9"},
	} {
		require.Equal(t, tc.want, connectHostPort(tc.addr, 9), tc.addr)
	}
}

func TestDeviceAddrs(t *testing.T) {
	ifaces := addrs("127.0.0.1", "::1", "192.0.2.2", "fd00::2", "fe80::1")
	for _, tc := range []struct {
		host string
		want []netip.Addr
	}{
		{"127.0.0.1", nil},
		{"localhost", nil},
		{"::1", nil},
		{"0.0.0.0", addrs("192.0.2.2")},
		{"::", addrs("192.0.2.2", "fd00::2")},
		{"192.0.2.2", addrs("192.0.2.2")},
	} {
		t.Run(tc.host, func(t *testing.T) {
			got, err := DeviceAddrs(context.Background(), tc.host, ifaces)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			beyond, err := BeyondLoopback(context.Background(), tc.host)
			require.NoError(t, err)
			require.Equal(t, tc.want != nil, beyond)
		})
	}
}

// TestListenAll checks the front server's listeners: every address of
// "localhost" on one port, an IPv4 wildcard IPv4-only, "::" on both
// families.
func TestListenAll(t *testing.T) {
	ctx := context.Background()
	serve := func(t *testing.T, host string) int {
		lns, err := listenAll(ctx, host, 0)
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
		for _, ln := range lns {
			go func() { _ = srv.Serve(ln) }()
		}
		t.Cleanup(func() { _ = srv.Close() })
		return lns[0].Addr().(*net.TCPAddr).Port
	}
	reach := func(addr string, port int) error {
		resp, err := http.Get("http://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	ipv6 := func() bool {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}()

	t.Run("localhost", func(t *testing.T) {
		port := serve(t, "localhost")
		require.NoError(t, reach("127.0.0.1", port))
		if ipv6 {
			require.NoError(t, reach("::1", port))
		}
	})
	t.Run("0.0.0.0", func(t *testing.T) {
		port := serve(t, "0.0.0.0")
		require.NoError(t, reach("127.0.0.1", port))
		if ipv6 {
			require.Error(t, reach("::1", port), "an IPv4 wildcard must not listen on IPv6")
		}
	})
	t.Run("::", func(t *testing.T) {
		if !ipv6 {
			t.Skip("no IPv6 loopback on this machine")
		}
		port := serve(t, "::")
		require.NoError(t, reach("127.0.0.1", port))
		require.NoError(t, reach("::1", port))
	})
}
