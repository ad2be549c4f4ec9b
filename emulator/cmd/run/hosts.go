package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/pajama-app/sharedexperiences/emulator"
)

// defaultHost is firebase-tools' host for an emulator that names none
// (constants.DEFAULT_HOST): the loopback, IPv4 and IPv6.
const defaultHost = "localhost"

// readHosts reads emulators.{auth,firestore,pubsub,functions}.host from
// firebase.json, with firebase-tools' default for a missing one.
func readHosts(path string) (emulator.Hosts, error) {
	type host struct{ Host string }
	var c struct {
		Emulators struct {
			Auth      host `json:"auth"`
			Firestore host `json:"firestore"`
			PubSub    host `json:"pubsub"`
			Functions host `json:"functions"`
		} `json:"emulators"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return emulator.Hosts{}, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return emulator.Hosts{}, fmt.Errorf("%s: %w", path, err)
	}
	h := emulator.Hosts{
		Auth: c.Emulators.Auth.Host, Firestore: c.Emulators.Firestore.Host,
		PubSub: c.Emulators.PubSub.Host, Functions: c.Emulators.Functions.Host,
	}
	for _, f := range []*string{&h.Auth, &h.Firestore, &h.PubSub, &h.Functions} {
		if *f == "" {
			*f = defaultHost
		}
	}
	return h, nil
}

// labels name the servers on the banner.
var labels = map[string]string{
	"auth": "Auth emulator", "firestore": "Firestore emulator",
	"pubsub": "Pub/Sub emulator", "functions": "Functions",
}

// deviceBanner says where a phone or another machine reaches each server,
// given this machine's interface addresses, and warns when any listens
// beyond the loopback: the emulators trust whatever token they are shown.
func deviceBanner(ctx context.Context, listeners []emulator.Listener, ifaces []netip.Addr, region string) (string, error) {
	var b strings.Builder
	exposed := false
	first := map[string]netip.AddrPort{} // a device's address of each server
	b.WriteString("\n  From a device (iPhone on the desk, another machine):\n")
	for _, l := range listeners {
		addrs, err := emulator.DeviceAddrs(ctx, l.Host, ifaces)
		if err != nil {
			return "", err
		}
		where := "this machine only (host " + l.Host + " in firebase.json)"
		if len(addrs) > 0 {
			exposed = true
			hps := make([]string, len(addrs))
			for i, a := range addrs {
				hps[i] = netip.AddrPortFrom(a, uint16(l.Port)).String()
			}
			where = strings.Join(hps, "  ")
			first[l.Name] = netip.AddrPortFrom(addrs[0], uint16(l.Port))
		} else if beyond, err := emulator.BeyondLoopback(ctx, l.Host); err == nil && beyond {
			// A wildcard on a machine without a usable interface address.
			exposed = true
			where = "every interface (" + l.Host + "), but this machine has no address another can use"
		}
		fmt.Fprintf(&b, "    %-19s %s\n", labels[l.Name], where)
	}
	if !exposed {
		b.WriteString("    Nothing listens beyond this machine (the iOS simulator shares its loopback).\n" +
			"    For a device, set \"host\": \"0.0.0.0\" on each emulator in firebase.json (README).\n")
		return b.String(), nil
	}
	auth, okA := first["auth"]
	fs, okF := first["firestore"]
	fn, okN := first["functions"]
	if okA && okF && okN {
		fmt.Fprintf(&b, `
    iOS on the device:
      Auth.auth().useEmulator(withHost: %q, port: %d)
      settings.host = %q; settings.isSSLEnabled = false   // Firestore
      Functions.functions(region: %q).useEmulator(withHost: %q, port: %d)
`, auth.Addr().String(), auth.Port(), fs.String(), region, fn.Addr().String(), fn.Port())
	}
	b.WriteString(`
  WARNING: listening beyond the loopback. The emulators accept unsigned ID
  tokens and the Firestore emulator lets "Authorization: Bearer owner" past
  the rules: anyone who can reach the addresses above can act as any user and
  read or change every document. Use a network you trust, or keep
  "host": "127.0.0.1" in firebase.json.
`)
	return b.String(), nil
}

// printDevices prints deviceBanner for the running stack.
func printDevices(ctx context.Context, local *emulator.Local) error {
	ifaces, err := emulator.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("interface addresses: %w", err)
	}
	s, err := deviceBanner(ctx, local.Listeners(), ifaces, local.Region)
	if err != nil {
		return err
	}
	fmt.Print(s)
	return nil
}
