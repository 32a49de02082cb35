package control

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeer accepts a unix-socket peer whose uid, as reported by the kernel
// (SO_PEERCRED, taken at connect time and unforgeable by the peer), is the
// daemon's own uid or root. Other connection types are rejected.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return fmt.Errorf("peer credentials: %w", credErr)
	}
	if !allowedUID(cred.Uid, uint32(os.Getuid())) {
		return fmt.Errorf("permission denied for uid %d (allowed: %d and root)", cred.Uid, os.Getuid())
	}
	return nil
}
