package pgp

import (
	"errors"
	"fmt"
)

// Bounds on hostile OpenPGP data; see the package comment.
const (
	// MaxKeyBytes is the largest binary key block accepted.
	MaxKeyBytes = 256 << 10
	// MaxKeyUserIDs is the most user IDs (and user attributes) a key block
	// may hold.
	MaxKeyUserIDs = 64
	// MaxKeySubkeys is the most subkeys a key block may hold.
	MaxKeySubkeys = 64
	// MaxKeySignatures is the most signature packets a key block may hold.
	MaxKeySignatures = 1024
	// MaxRecipients is the most public-key encrypted session key packets
	// an OpenPGP message may carry.
	MaxRecipients = 64
	// MaxDecryptions is the most ciphertexts opened in one mail.
	MaxDecryptions = 16
	// MaxDepth is the deepest MIME nesting walked.
	MaxDepth = 16
	// MaxParts is the most MIME parts walked in one mail.
	MaxParts = 500
	// DefaultMaxPlaintext is the default of Options.MaxPlaintext.
	DefaultMaxPlaintext = 32 << 20
)

// Errors a Result may name.
var (
	// ErrTooLarge: the plaintext would exceed Options.MaxPlaintext.
	ErrTooLarge = errors.New("pgp: plaintext exceeds the size limit")
	// ErrKeyTooComplex: a key block over the key bounds.
	ErrKeyTooComplex = errors.New("pgp: key block exceeds the limits")
	// ErrMalformed: data that is not well-formed OpenPGP.
	ErrMalformed = errors.New("pgp: malformed OpenPGP data")
	// ErrNoKey: the message is not encrypted to any key we hold.
	ErrNoKey = errors.New("pgp: not encrypted to any of our keys")
	// ErrTooManyRecipients: more key packets than MaxRecipients.
	ErrTooManyRecipients = errors.New("pgp: too many recipients")
)

// OpenPGP packet tags (RFC 9580 §5).
const (
	tagPKESK        = 1
	tagSignature    = 2
	tagSecretKey    = 5
	tagPublicKey    = 6
	tagSecretSubkey = 7
	tagUserID       = 13
	tagPublicSubkey = 14
	tagUserAttr     = 17
)

// packetTags walks the packet headers of binary OpenPGP data b and calls
// fn with each packet's tag, stopping early when fn returns an error. It
// reads only headers and lengths (RFC 9580 §4.2), never a body, so its cost
// is linear in the number of packets. A packet of indeterminate or partial
// length ends the walk: such packets only carry data, never key material.
func packetTags(b []byte, fn func(tag int) error) error {
	for len(b) > 0 {
		h := b[0]
		if h&0x80 == 0 {
			return fmt.Errorf("%w: bad packet header", ErrMalformed)
		}
		var tag int
		var n, hl int    // body length, header length
		if h&0x40 != 0 { // new format
			tag = int(h & 0x3f)
			if len(b) < 2 {
				return fmt.Errorf("%w: truncated packet header", ErrMalformed)
			}
			switch o := int(b[1]); {
			case o < 192:
				n, hl = o, 2
			case o < 224:
				if len(b) < 3 {
					return fmt.Errorf("%w: truncated packet header", ErrMalformed)
				}
				n, hl = (o-192)<<8+int(b[2])+192, 3
			case o == 255:
				if len(b) < 6 {
					return fmt.Errorf("%w: truncated packet header", ErrMalformed)
				}
				n, hl = int(uint32(b[2])<<24|uint32(b[3])<<16|uint32(b[4])<<8|uint32(b[5])), 6
			default: // partial body length: a data packet, the last we look at
				return fn(tag)
			}
		} else {
			tag = int(h>>2) & 0x0f
			switch h & 3 {
			case 0:
				if len(b) < 2 {
					return fmt.Errorf("%w: truncated packet header", ErrMalformed)
				}
				n, hl = int(b[1]), 2
			case 1:
				if len(b) < 3 {
					return fmt.Errorf("%w: truncated packet header", ErrMalformed)
				}
				n, hl = int(b[1])<<8|int(b[2]), 3
			case 2:
				if len(b) < 5 {
					return fmt.Errorf("%w: truncated packet header", ErrMalformed)
				}
				n, hl = int(uint32(b[1])<<24|uint32(b[2])<<16|uint32(b[3])<<8|uint32(b[4])), 5
			default: // indeterminate length: the rest of the data
				return fn(tag)
			}
		}
		if err := fn(tag); err != nil {
			return err
		}
		if n < 0 || n > len(b)-hl {
			return fmt.Errorf("%w: truncated packet", ErrMalformed)
		}
		b = b[hl+n:]
	}
	return nil
}

// checkKeyBlock enforces the key bounds on binary key data.
func checkKeyBlock(b []byte) error {
	if len(b) > MaxKeyBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrKeyTooComplex, len(b), MaxKeyBytes)
	}
	var uids, subs, sigs, prims int
	err := packetTags(b, func(tag int) error {
		switch tag {
		case tagPublicKey, tagSecretKey:
			prims++
		case tagUserID, tagUserAttr:
			uids++
		case tagPublicSubkey, tagSecretSubkey:
			subs++
		case tagSignature:
			sigs++
		}
		switch {
		case uids > MaxKeyUserIDs:
			return fmt.Errorf("%w: more than %d user IDs", ErrKeyTooComplex, MaxKeyUserIDs)
		case subs > MaxKeySubkeys:
			return fmt.Errorf("%w: more than %d subkeys", ErrKeyTooComplex, MaxKeySubkeys)
		case sigs > MaxKeySignatures:
			return fmt.Errorf("%w: more than %d signatures", ErrKeyTooComplex, MaxKeySignatures)
		case prims > MaxKeySubkeys:
			return fmt.Errorf("%w: more than %d keys", ErrKeyTooComplex, MaxKeySubkeys)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if prims == 0 {
		return fmt.Errorf("%w: no key in the block", ErrMalformed)
	}
	return nil
}

// checkMessage enforces the message bounds on binary message data.
func checkMessage(b []byte) error {
	var pk int
	return packetTags(b, func(tag int) error {
		if tag == tagPKESK {
			pk++
			if pk > MaxRecipients {
				return fmt.Errorf("%w: more than %d", ErrTooManyRecipients, MaxRecipients)
			}
		}
		return nil
	})
}
