package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/ProtonMail/gopenpgp/v3/crypto"
	"github.com/ProtonMail/gopenpgp/v3/profile"
)

// handle is the gopenpgp configuration every operation uses. The default
// profile makes v4 keys (EdDSA Ed25519 with ECDH Cv25519), SHA-256 and
// AES-256, and iterated-salted S2K for passphrases: all readable by
// GnuPG 2.2, which reads no v6 key and no Argon2 S2K.
var handle = crypto.PGPWithProfile(profile.Default())

// micalg names the hash of the profile for RFC 3156 §5.
const micalg = "pgp-sha256"

// PublicKey is one OpenPGP certificate (a public key with its user IDs and
// subkeys).
type PublicKey struct {
	key *crypto.Key
}

// Fingerprint is the key's fingerprint in upper-case hex.
func (k *PublicKey) Fingerprint() string { return strings.ToUpper(k.key.GetFingerprint()) }

// KeyID is the key's 64-bit key ID in upper-case hex.
func (k *PublicKey) KeyID() string { return strings.ToUpper(k.key.GetHexKeyID()) }

// Created is the primary key's creation time.
func (k *PublicKey) Created() time.Time { return k.key.GetEntity().PrimaryKey.CreationTime }

// Expires is the primary key's expiry, or the zero time when it never
// expires (or has no valid self-signature, which Usable reports).
func (k *PublicKey) Expires() time.Time {
	e := k.key.GetEntity()
	sig, err := e.PrimarySelfSignature(time.Time{}, &packet.Config{})
	if err != nil || sig == nil || sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return time.Time{}
	}
	return e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
}

// Addresses lists the e-mail addresses of the key's user IDs, lower-cased
// and sorted.
func (k *PublicKey) Addresses() []string {
	var out []string
	for _, id := range k.key.GetEntity().Identities {
		if id.UserId != nil && id.UserId.Email != "" {
			out = append(out, strings.ToLower(id.UserId.Email))
		}
	}
	sort.Strings(out)
	return out
}

// HasAddress reports whether a user ID of the key, valid at now (self-
// certified and not revoked), carries the address addr.
func (k *PublicKey) HasAddress(addr string, now time.Time) bool {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return false
	}
	for _, id := range k.key.GetEntity().Identities {
		if id.UserId == nil || !strings.EqualFold(id.UserId.Email, addr) {
			continue
		}
		sig, err := id.Verify(now, nil)
		if err != nil || id.Revoked(sig, now, nil) {
			continue
		}
		return true
	}
	return false
}

// Usable reports why the key cannot be used at now for encryption and
// verification: revoked, expired, or without a valid encryption subkey.
// It returns nil for a usable key.
func (k *PublicKey) Usable(now time.Time) error {
	switch {
	case k.key.IsRevoked(now.Unix()):
		return errors.New("key is revoked")
	case k.key.IsExpired(now.Unix()):
		return errors.New("key has expired")
	case !k.key.CanEncrypt(now.Unix()):
		return errors.New("key has no usable encryption subkey")
	}
	return nil
}

// Armored is the armored public key.
func (k *PublicKey) Armored() (string, error) {
	s, err := k.key.GetArmoredPublicKey()
	if err != nil {
		return "", fmt.Errorf("armor key %s: %w", k.Fingerprint(), err)
	}
	return s, nil
}

// Binary is the serialized public key (as for Autocrypt's keydata).
func (k *PublicKey) Binary() ([]byte, error) {
	b, err := k.key.GetPublicKey()
	if err != nil {
		return nil, fmt.Errorf("serialize key %s: %w", k.Fingerprint(), err)
	}
	return b, nil
}

// ParsePublicKeys reads every key in data, armored (one or more blocks)
// or binary, within the key bounds. Secret keys are turned public.
func ParsePublicKeys(data []byte) ([]*PublicKey, error) {
	blocks, err := keyBlocks(data)
	if err != nil {
		return nil, err
	}
	var out []*PublicKey
	for _, b := range blocks {
		el, err := readEntities(b)
		if err != nil {
			return nil, err
		}
		for _, e := range el {
			k, err := crypto.NewKeyFromEntity(e)
			if err != nil {
				return nil, fmt.Errorf("read key: %w", err)
			}
			if k.IsPrivate() {
				if k, err = k.ToPublic(); err != nil {
					return nil, fmt.Errorf("read key: %w", err)
				}
			}
			out = append(out, &PublicKey{key: k})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no key found", ErrMalformed)
	}
	return out, nil
}

// isArmored reports whether data starts, after blank space, with armor.
func isArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN PGP "))
}

// keyBlocks returns the binary content of each key block in data.
func keyBlocks(data []byte) ([][]byte, error) {
	if !isArmored(data) {
		if len(data) > MaxKeyBytes {
			return nil, fmt.Errorf("%w: %d bytes", ErrKeyTooComplex, len(data))
		}
		return [][]byte{data}, nil
	}
	var out [][]byte
	r := bytes.NewReader(data)
	for len(out) < MaxKeySubkeys {
		blk, err := armor.Decode(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(out) > 0 {
				break // trailing text after the last block
			}
			return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
		}
		if blk.Type != "PGP PUBLIC KEY BLOCK" && blk.Type != "PGP PRIVATE KEY BLOCK" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(blk.Body, MaxKeyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no key block", ErrMalformed)
	}
	return out, nil
}

// readEntities parses one binary key block after checking its bounds.
func readEntities(b []byte) (openpgp.EntityList, error) {
	if err := checkKeyBlock(b); err != nil {
		return nil, err
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: key: %v", ErrMalformed, err)
	}
	return el, nil
}

// SecretKey is an unlocked secret key of the organisation.
type SecretKey struct {
	key *crypto.Key
	pub *PublicKey
}

// LoadSecretKey reads an armored (or binary) secret key and unlocks it
// with passphrase (empty for an unprotected key). The passphrase is not
// kept.
func LoadSecretKey(data, passphrase []byte) (*SecretKey, error) {
	blocks, err := keyBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	el, err := readEntities(blocks[0])
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if len(el) != 1 {
		return nil, fmt.Errorf("read secret key: want one key, found %d", len(el))
	}
	k, err := crypto.NewKeyFromEntity(el[0])
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if !k.IsPrivate() {
		return nil, errors.New("read secret key: the file holds a public key only")
	}
	locked, err := k.IsLocked()
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if locked {
		if len(passphrase) == 0 {
			return nil, errors.New("read secret key: the key is protected and no passphrase is set")
		}
		u, err := k.Unlock(passphrase)
		if err != nil {
			return nil, errors.New("read secret key: wrong passphrase")
		}
		k.ClearPrivateParams()
		k = u
	}
	pub, err := k.ToPublic()
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	return &SecretKey{key: k, pub: &PublicKey{key: pub}}, nil
}

// Public is the key's public half.
func (s *SecretKey) Public() *PublicKey { return s.pub }

// Fingerprint is the key's fingerprint in upper-case hex.
func (s *SecretKey) Fingerprint() string { return s.pub.Fingerprint() }

// Clear wipes the key's secret material from memory, as far as go-crypto
// allows; the key is unusable afterwards.
func (s *SecretKey) Clear() { s.key.ClearPrivateParams() }

// Generated is a new organisation key.
type Generated struct {
	// Armored is the armored secret key, locked with the passphrase given.
	Armored string
	// Public is the armored public key, to publish.
	Public string
	// Fingerprint is the key's fingerprint.
	Fingerprint string
	// Expires is the key's expiry; zero when it never expires.
	Expires time.Time
}

// Generate makes a v4 Ed25519 signing key with a Cv25519 encryption
// subkey for name <email>, valid for lifetime from now (0: no expiry),
// locked with passphrase (empty: unprotected).
func Generate(name, email string, lifetime time.Duration, passphrase []byte, now time.Time) (*Generated, error) {
	if lifetime < 0 || lifetime/time.Second > 1<<31-1 {
		return nil, fmt.Errorf("generate key: lifetime %s out of range", lifetime)
	}
	k, err := handle.KeyGeneration().AddUserId(name, email).GenerationTime(now.Unix()).
		Lifetime(int32(lifetime / time.Second)).New().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	defer k.ClearPrivateParams()
	locked := k
	if len(passphrase) > 0 {
		if locked, err = handle.LockKey(k, passphrase); err != nil {
			return nil, fmt.Errorf("lock key: %w", err)
		}
		defer locked.ClearPrivateParams()
	}
	armored, err := locked.Armor()
	if err != nil {
		return nil, fmt.Errorf("armor key: %w", err)
	}
	pub, err := k.GetArmoredPublicKey()
	if err != nil {
		return nil, fmt.Errorf("armor key: %w", err)
	}
	pk := &PublicKey{key: k}
	return &Generated{Armored: armored, Public: pub, Fingerprint: pk.Fingerprint(), Expires: pk.Expires()}, nil
}

// keyRing builds a gopenpgp key ring of keys (nil for none).
func keyRing(keys []*crypto.Key) (*crypto.KeyRing, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	kr, err := crypto.NewKeyRing(nil)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := kr.AddKey(k); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

func publicRing(keys []*PublicKey) (*crypto.KeyRing, error) {
	ks := make([]*crypto.Key, 0, len(keys))
	for _, k := range keys {
		ks = append(ks, k.key)
	}
	return keyRing(ks)
}

// findKey returns the key of keys whose primary key or subkey has the
// fingerprint fpr (upper-case hex) or the 16-hex-digit key ID.
func findKey(keys []*PublicKey, id string) *PublicKey {
	id = strings.ToUpper(id)
	for _, k := range keys {
		e := k.key.GetEntity()
		if k.Fingerprint() == id || k.KeyID() == id {
			return k
		}
		for _, s := range e.Subkeys {
			if strings.ToUpper(fmt.Sprintf("%X", s.PublicKey.Fingerprint)) == id ||
				fmt.Sprintf("%016X", s.PublicKey.KeyId) == id {
				return k
			}
		}
	}
	return nil
}
