package ios

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"slices"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyAlgorithms returns the host key algorithms known_hosts holds for
// hostport (as scrapligo dials it, "host:port"). Restricting the handshake to
// them makes the server present a key we can check; otherwise a server that
// prefers, say, ed25519 while known_hosts pins its RSA key fails as a mismatch.
// A host absent from the file is an error: strict checking would refuse it.
func hostKeyAlgorithms(file, hostport string) ([]string, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	// Ask with a key that cannot be in the file: the KeyError lists every
	// key the file holds for this host. (A key of the right size never fails.)
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	err = cb(hostport, &net.TCPAddr{IP: net.IPv4zero}, probe)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	if len(ke.Want) == 0 {
		return nil, fmt.Errorf("known_hosts %s has no key for %s (host keys are checked strictly)", file, knownhosts.Normalize(hostport))
	}
	var algs []string
	for _, k := range ke.Want {
		t := k.Key.Type()
		if t == ssh.KeyAlgoRSA {
			// An RSA key signs with SHA-2 on modern servers.
			algs = append(algs, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		}
		algs = append(algs, t)
	}
	slices.Sort(algs)
	return slices.Compact(algs), nil
}
