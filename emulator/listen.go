package emulator

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Hosts are the addresses each server listens on, as firebase.json's
// emulators.{auth,firestore,pubsub,functions}.host say; an empty field
// takes the options' Host. Each is what firebase-tools accepts there: an IP
// address, a name ("localhost"), or a wildcard ("0.0.0.0" for every IPv4
// interface, "::" for every interface).
type Hosts struct {
	Auth, Firestore, PubSub, Functions string
}

// withDefault fills the empty fields with host, and unbrackets each.
func (h Hosts) withDefault(host string) Hosts {
	for _, f := range []*string{&h.Auth, &h.Firestore, &h.PubSub, &h.Functions} {
		if *f == "" {
			*f = host
		}
		*f = unbracket(*f)
	}
	return h
}

// unbracket turns "[::]", as in a URL, into "::". firebase-tools'
// connectableHostname knows the bracketed form, its resolver does not: the
// Auth emulator gets the bare one.
func unbracket(host string) string {
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// Listener is one server of the stack and where it listens.
type Listener struct {
	// Name is the firebase.json key: auth, firestore, pubsub, functions.
	Name string
	// Host is as configured: an address, a name or a wildcard.
	Host string
	Port int
}

// loopbackHost is where the private servers listen (the functions host,
// firebase-tools' hub and logging): only the runner talks to them.
const loopbackHost = "127.0.0.1"

// listenAddrs resolves host as firebase-tools resolves an emulator's host
// (its dns.Resolver and portUtils): an IP address is itself; "localhost" is
// 127.0.0.1 and ::1; another name is every address it resolves to, IPv4
// first. "::" is every interface, IPv4 included, which Go's dual-stack
// listener gives in one socket. The first address is the primary: the
// servers that can listen on one address only (the Firestore and Pub/Sub
// emulators) take it.
func listenAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	host = unbracket(host)
	if host == "" || host == "localhost" {
		return []netip.Addr{netip.MustParseAddr(loopbackHost), netip.IPv6Loopback()}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("emulator host %q: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("emulator host %q: no address", host)
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	// IPv4 first, as Node's lookup with verbatim: false orders them.
	slices.SortStableFunc(ips, func(a, b netip.Addr) int {
		switch {
		case a.Is4() == b.Is4():
			return 0
		case a.Is4():
			return -1
		default:
			return 1
		}
	})
	return slices.Compact(ips), nil
}

// primaryAddr is the address a single-address server binds for host.
func primaryAddr(ctx context.Context, host string) (netip.Addr, error) {
	addrs, err := listenAddrs(ctx, host)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

// connectAddr is the address this machine's clients use for a server bound
// to a: a wildcard is reached on the loopback (firebase-tools'
// connectableHostname), anything else as it is. "::" listens dual-stack, so
// 127.0.0.1 reaches it even where IPv6 loopback is off.
func connectAddr(a netip.Addr) netip.Addr {
	if a.IsUnspecified() {
		return netip.MustParseAddr(loopbackHost)
	}
	return a
}

// listenNetwork keeps an IPv4 wildcard IPv4-only, as in firebase-tools: Go's
// "tcp" on 0.0.0.0 would open a dual-stack socket. "::" stays dual-stack
// ("tcp"); another IPv6 wildcard spelling ("::0" parses to "::" too) cannot
// be told apart, and is treated the same.
func listenNetwork(a netip.Addr) string {
	if a.Is4() {
		return "tcp4"
	}
	return "tcp"
}

// listenAll opens a listener on port at every address host resolves to, as
// the firebase-tools functions emulator does. The primary address must be
// available; another that is not (::1 with IPv6 off) is left out, as
// firebase-tools does with a warning. Port 0 picks a free port on the
// primary address and uses it on the others.
func listenAll(ctx context.Context, host string, port int) ([]net.Listener, error) {
	addrs, err := listenAddrs(ctx, host)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	var lns []net.Listener
	for i, a := range addrs {
		ln, err := lc.Listen(ctx, listenNetwork(a), net.JoinHostPort(a.String(), strconv.Itoa(port)))
		if err != nil {
			if i == 0 {
				return nil, err
			}
			continue
		}
		if i == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// BeyondLoopback reports whether a server listening on host can be reached
// from other machines.
func BeyondLoopback(ctx context.Context, host string) (bool, error) {
	addrs, err := listenAddrs(ctx, host)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(addrs, func(a netip.Addr) bool { return !a.IsLoopback() }), nil
}

// DeviceAddrs lists the addresses another machine (a phone on the desk)
// uses to reach a server listening on host: a wildcard's are this machine's
// interface addresses of its family (ifaces, from InterfaceAddrs), anything
// else is itself. Loopback and link-local addresses are left out: another
// machine cannot use them. Empty means this machine only.
func DeviceAddrs(ctx context.Context, host string, ifaces []netip.Addr) ([]netip.Addr, error) {
	addrs, err := listenAddrs(ctx, host)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if !a.IsUnspecified() {
			add(a)
			continue
		}
		for _, i := range ifaces {
			// 0.0.0.0 is IPv4 only; "::" is dual-stack.
			if a.Is6() || i.Is4() {
				add(i)
			}
		}
	}
	return out, nil
}

// InterfaceAddrs returns this machine's interface addresses.
func InterfaceAddrs() ([]netip.Addr, error) {
	nets, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, n := range nets {
		if ipn, ok := n.(*net.IPNet); ok {
			if a, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, a.Unmap())
			}
		}
	}
	return out, nil
}

// primaryAddrs resolves each emulator's host to the one address it binds
// (or, for Auth, the one the runner checks it on: firebase-tools resolves
// the Auth emulator's host itself, and listens on all its addresses).
func primaryAddrs(ctx context.Context, h Hosts) (Hosts, error) {
	var out Hosts
	for _, f := range []struct{ in, out *string }{
		{&h.Auth, &out.Auth}, {&h.Firestore, &out.Firestore}, {&h.PubSub, &out.PubSub}, {&h.Functions, &out.Functions},
	} {
		a, err := primaryAddr(ctx, *f.in)
		if err != nil {
			return Hosts{}, err
		}
		*f.out = a.String()
	}
	return out, nil
}

// connectHostPort is host:port as this machine reaches a server bound to
// addr.
func connectHostPort(addr string, port int) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return hostPort(addr, port)
	}
	return hostPort(connectAddr(a).String(), port)
}

// Listeners are the stack's servers and where they listen, for telling a
// device where to connect.
func (s *Stack) Listeners() []Listener { return slices.Clone(s.listeners) }

// ConnectAddr is host:port as this machine reaches a server configured
// with host (a wildcard's loopback, a name's primary address; "" is
// firebase-tools' default, localhost).
func ConnectAddr(ctx context.Context, host string, port int) (string, error) {
	a, err := primaryAddr(ctx, host)
	if err != nil {
		return "", err
	}
	return connectHostPort(a.String(), port), nil
}
